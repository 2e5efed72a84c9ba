from __future__ import annotations

import math
from typing import Any

import pytest
from fixture_cases import params
from hypothesis import given
from hypothesis import strategies as st

from policies.decisions import Verdict
from policies.errors import ValidationFailed
from policies.gates import (
    DbtTestResult,
    DbtTestStatus,
    GateFacts,
    dbt_test_results,
    decide_gate,
    minimum_row_count,
)
from policies.publishing import PublishingPolicy

FIXTURE = "gates.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "minimum"))
def test_minimum_row_count(case: dict[str, Any]) -> None:
    assert minimum_row_count(case["active"], case["drop"]) == case["minimum"]


@pytest.mark.parametrize("case", params(FIXTURE, "minimum_invalid"))
def test_minimum_row_count_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        minimum_row_count(case["active"], case["drop"])
    assert exc.value.details["field"] == case["field"]


@pytest.mark.parametrize("case", params(FIXTURE, "policy"))
def test_max_row_drop_for(case: dict[str, Any]) -> None:
    policy = PublishingPolicy.from_mapping(case["data"])
    for table, expected in case["max_row_drop"].items():
        assert policy.max_row_drop_for(table) == expected, table


@pytest.mark.parametrize("case", params(FIXTURE, "policy_invalid"))
def test_max_row_drop_policy_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        PublishingPolicy.from_mapping(case["data"])
    assert exc.value.details["field"] == case["field"]


def test_max_row_drop_for_refuses_a_bad_table_name() -> None:
    with pytest.raises(ValidationFailed):
        PublishingPolicy().max_row_drop_for("daily_sales")


@pytest.mark.parametrize("case", params(FIXTURE, "verdict"))
def test_decide_gate(case: dict[str, Any]) -> None:
    facts = GateFacts(
        table="silver.orders",
        version=3,
        expectations_passed=case["expectations_passed"],
        expectations_message=case.get("expectations_message"),
        dbt_tests=dbt_test_results(case["dbt_tests"]),
    )
    decision = decide_gate(facts)

    assert decision.allowed is case["passed"]
    assert decision.verdict == (Verdict.ALLOW if case["passed"] else Verdict.BLOCK)
    assert [t.name for t in facts.failing_tests] == case["failing"]
    for text in case.get("message_contains", []):
        assert text in decision.message
    dbt_reasons = [r for r in decision.reasons if r.rule == "dbt_tests"]
    if case["failing"]:
        (reason,) = dbt_reasons
        assert reason.details["dbt_failures"] == case["failing"]
    else:
        assert not dbt_reasons


@pytest.mark.parametrize("case", params(FIXTURE, "verdict_invalid"))
def test_dbt_test_result_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        dbt_test_results([case["test"]])
    assert exc.value.details["field"] == case["field"]


def test_only_fail_and_error_block() -> None:
    assert {s for s in DbtTestStatus if s.blocking} == {DbtTestStatus.FAIL, DbtTestStatus.ERROR}


def test_dbt_test_result_round_trips() -> None:
    raw = {"name": "not_null_orders_id", "status": "fail", "message": "Got 1 result"}
    assert DbtTestResult.from_mapping(raw).to_dict() == raw


# --- properties -------------------------------------------------------------------------------

drops = st.floats(min_value=0, max_value=1, allow_nan=False)
counts = st.integers(min_value=0, max_value=10**12)


@given(counts, drops)
def test_the_floor_allows_exactly_the_configured_drop(active: int, drop: float) -> None:
    minimum = minimum_row_count(active, drop)
    assert 0 <= minimum <= active
    # the floor itself is within the allowed drop, one row fewer is not
    assert active - minimum <= active * drop + 1e-6 * max(active, 1)
    if minimum > 0:
        assert active - (minimum - 1) > active * drop - 1e-6 * max(active, 1)


@given(counts, drops, drops)
def test_a_larger_allowed_drop_never_raises_the_floor(active: int, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert minimum_row_count(active, high) <= minimum_row_count(active, low)


@given(counts)
def test_bounds(active: int) -> None:
    assert minimum_row_count(active, 0) == active
    assert minimum_row_count(active, 1) == 0
    assert minimum_row_count(None, 0) == 0
    assert minimum_row_count(active, 0.5) == math.ceil(active / 2)
