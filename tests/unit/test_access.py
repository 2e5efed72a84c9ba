from __future__ import annotations

import itertools
from typing import Any

import pytest
from fixture_cases import load, params

from policies.access import ACCESS_RULES, AccessFacts, decide_access, visible_states
from policies.decisions import Verdict
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode, decide_mode
from policies.roles import Operation, Role, authorize

FIXTURE = "access.yaml"


def _facts(raw: dict[str, Any]) -> AccessFacts:
    role = raw["role"]
    return AccessFacts(
        operation=Operation(raw["operation"]),
        role=None if role is None else Role.parse(role),
        mode=SystemMode(raw["mode"]),
        target=raw.get("target", "silver.customers"),
    )


@pytest.mark.parametrize("case", params(FIXTURE, "decisions"))
def test_decide_access(case: dict[str, Any]) -> None:
    decision = decide_access(_facts(case["facts"]))
    assert decision.verdict == Verdict[case["verdict"]]
    assert [r.rule for r in decision.reasons] == case["rules"]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if decision.allowed:
        return
    with pytest.raises(SpyneError) as exc:
        decision.raise_unless_allowed()
    assert exc.value.code == case["error"]


def test_fixture_triggers_every_rule() -> None:
    cases = [_facts(c["facts"]) for c in load(FIXTURE, "decisions")]
    for rule in ACCESS_RULES:
        assert any(not rule(f).allowed for f in cases), rule.__name__


def test_access_is_exactly_identity_role_and_mode() -> None:
    for operation, role, mode in itertools.product(Operation, [None, *Role], SystemMode):
        expected = (
            role is not None
            and authorize(role, operation).allowed
            and decide_mode(mode, operation).allowed
        )
        decision = decide_access(AccessFacts(operation, role, mode, "gold.x"))
        assert decision.allowed == expected, (operation, role, mode)


@pytest.mark.parametrize("case", params(FIXTURE, "visible", lambda c: c["role"]))
def test_visible_states(case: dict[str, Any]) -> None:
    states = visible_states(Role.parse(case["role"]))
    assert sorted(s.value for s in states) == case["states"]
    assert TableState.ACTIVE in states
