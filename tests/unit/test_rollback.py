from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Decision, Verdict
from policies.errors import SpyneError, ValidationFailed
from policies.lifecycle import TableState, Transition, decide_transition
from policies.publish import GateStatus
from policies.roles import Operation, Role, authorize
from policies.table_actions import (
    ROLLBACK_RULES,
    PastVersion,
    RollbackFacts,
    TableActionFacts,
    decide_deprecate,
    decide_restore,
    decide_rollback,
    previous_active_version,
)

FIXTURE = "rollback.yaml"


def facts(overrides: dict[str, Any]) -> RollbackFacts:
    raw = {**load(FIXTURE, "base"), **overrides}
    return RollbackFacts(
        table=raw["table"],
        table_state=TableState(raw["table_state"]),
        target_version=raw["target_version"],
        active_version=raw["active_version"],
        target_retained=raw["target_retained"],
        target_gate_status=GateStatus(raw["target_gate_status"]),
        actor_role=Role.parse(raw["actor_role"]),
    )


def check(decision: Decision, case: dict[str, Any]) -> None:
    assert decision.verdict == Verdict[case["verdict"]]
    assert [r.rule for r in decision.reasons] == case["rules"]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if decision.allowed:
        return
    with pytest.raises(SpyneError) as exc:
        decision.raise_unless_allowed()
    if "error" in case:
        assert exc.value.code == case["error"]


@pytest.mark.parametrize("case", params(FIXTURE, "rollback"))
def test_decide_rollback(case: dict[str, Any]) -> None:
    f = facts(case["facts"])
    decision = decide_rollback(f)
    check(decision, case)
    for reason in decision.reasons:
        assert f.table in reason.message
        assert f"v{f.target_version}" in reason.message
        assert reason.details["table"] == f.table


@pytest.mark.parametrize("case", params(FIXTURE, "invalid_facts"))
def test_invalid_rollback_facts(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        facts(case["facts"])


def test_fixture_triggers_every_rollback_rule() -> None:
    cases = [facts(c["facts"]) for c in load(FIXTURE, "rollback")]
    for rule in ROLLBACK_RULES:
        assert any(not rule(f).allowed for f in cases), rule.__name__


def _action_id(case: dict[str, Any]) -> str:
    return f"{case['table_state']}-{case['actor_role']}"


@pytest.mark.parametrize("case", params(FIXTURE, "restore", _action_id))
def test_decide_restore(case: dict[str, Any]) -> None:
    f = TableActionFacts(
        "silver.customers", TableState(case["table_state"]), Role.parse(case["actor_role"])
    )
    decision = decide_restore(f)
    check(decision, case)
    assert all("silver.customers" in r.message for r in decision.reasons)


@pytest.mark.parametrize("case", params(FIXTURE, "deprecate", _action_id))
def test_decide_deprecate(case: dict[str, Any]) -> None:
    f = TableActionFacts(
        "silver.customers", TableState(case["table_state"]), Role.parse(case["actor_role"])
    )
    decision = decide_deprecate(f)
    check(decision, case)
    assert all("silver.customers" in r.message for r in decision.reasons)


@pytest.mark.parametrize(
    ("decide", "transition", "operation"),
    [
        (decide_restore, Transition.RESTORE, Operation.RESTORE),
        (decide_deprecate, Transition.DEPRECATE, Operation.DEPRECATE),
    ],
)
def test_actions_are_lifecycle_and_role_exactly(
    decide: Any, transition: Transition, operation: Operation
) -> None:
    for state, role in itertools.product(TableState, Role):
        expected = (
            decide_transition(state, transition).allowed and authorize(role, operation).allowed
        )
        assert decide(TableActionFacts("gold.x", state, role)).allowed == expected, (state, role)


def test_only_admins_ever_roll_back() -> None:
    for state, role, retained, gate in itertools.product(
        TableState, Role, (True, False), GateStatus
    ):
        f = RollbackFacts("gold.x", state, 1, 2, retained, gate, role)
        if decide_rollback(f).allowed:
            assert role == Role.ADMIN
            assert state == TableState.ACTIVE
            assert retained and gate == GateStatus.PASSED


def _past(raw: dict[str, Any]) -> PastVersion:
    at = raw.get("last_active_at")
    return PastVersion(raw["version"], None if at is None else datetime.fromisoformat(at))


@pytest.mark.parametrize("case", params(FIXTURE, "previous_active"))
def test_previous_active_version(case: dict[str, Any]) -> None:
    retained = [_past(v) for v in case["retained"]]
    if "error" in case:
        with pytest.raises(SpyneError) as exc:
            previous_active_version("gold.x", case["active_version"], retained)
        assert exc.value.code == case["error"]
        assert "--to-version" in exc.value.message
    else:
        chosen = previous_active_version("gold.x", case["active_version"], retained)
        assert chosen == case["expected"]
