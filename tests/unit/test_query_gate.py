from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixture_cases import params

from policies.decisions import Verdict
from policies.query_gate import RunFacts, cost_of, decide_run, used_in_window

FIXTURE = "query_gate.yaml"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GB = 1000**3


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_run_gate(case: dict[str, Any]) -> None:
    current = {"gold.orders": 7, "silver.partners": 3} | case.get("current", {})
    facts = RunFacts(
        preview_id="pv_1",
        now=T0 + timedelta(minutes=case.get("now", 1)),
        expires_at=T0 + timedelta(minutes=15),
        previewed_by="alice",
        caller=case.get("caller", "alice"),
        bound_tables={"gold.orders": 7, "silver.partners": 3},
        current_tables=current,
        needs_approval=case.get("needs_approval", False),
        approved_by=case.get("approved_by"),
        estimated_bytes=int(case.get("estimated_gb", 1) * GB),
        max_query_bytes=10 * GB,
        hourly_budget_bytes=100 * GB,
        used_in_window=int(case.get("used_gb", 0) * GB),
        executed=case.get("executed", False),
        approval_rules=tuple(case.get("approval_rules", ())),
    )
    decision = decide_run(facts)
    assert decision.verdict == Verdict[case["decision"]], decision.message
    if "rule" in case:
        assert decision.reasons[0].rule == case["rule"]
    if "message" in case:
        assert case["message"] in decision.message


@pytest.mark.parametrize("case", params(FIXTURE, "window"))
def test_sliding_window(case: dict[str, Any]) -> None:
    usage = [(T0 - timedelta(minutes=m), b) for m, b in case["usage"]]
    assert used_in_window(usage, T0) == case["counted"]


def test_cost_per_tb() -> None:
    assert cost_of(2 * 10**12, 6.25) == 12.5
    assert cost_of(None, 6.25) is None
