from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.decisions import Verdict
from policies.errors import CostLimitExceeded
from policies.query_cost import CostFacts, decide_query_cost, size

FIXTURE = "query_cost.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_query_cost(case: dict[str, Any]) -> None:
    facts = CostFacts("manifest", case["scans_data"], case["estimated"], case["cap"], "gold.kpis")
    decision = decide_query_cost(facts)
    assert decision.verdict == Verdict[case["verdict"]]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if not decision.allowed:
        with pytest.raises(CostLimitExceeded) as exc:
            decision.raise_unless_allowed()
        assert exc.value.code == "cost_limit_exceeded"
        assert exc.value.details["max_bytes"] == case["cap"]
        assert exc.value.details["estimated_bytes"] == case["estimated"]


@pytest.mark.parametrize("case", params(FIXTURE, "sizes", lambda c: str(c["bytes"])))
def test_size(case: dict[str, Any]) -> None:
    assert size(case["bytes"]) == case["text"]
