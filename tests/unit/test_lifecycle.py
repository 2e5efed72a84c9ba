from __future__ import annotations

import itertools
from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Verdict
from policies.errors import InvalidTransition
from policies.lifecycle import TableState, Transition, decide_transition, next_state

FIXTURE = "lifecycle.yaml"


def _id(case: dict[str, Any]) -> str:
    return f"{case['state']}-{case['transition']}"


@pytest.mark.parametrize("case", params(FIXTURE, "cases", _id))
def test_transition(case: dict[str, Any]) -> None:
    state, transition = TableState(case["state"]), Transition(case["transition"])
    decision = decide_transition(state, transition)

    if case["expected"] == "allow":
        assert decision.verdict == Verdict.ALLOW
        assert decision.reasons == ()
        assert next_state(state, transition) == TableState(case["to_state"])
    else:
        assert case["expected"] == "block"
        assert "to_state" not in case
        assert decision.verdict == Verdict.BLOCK
        (reason,) = decision.reasons
        assert reason.rule == "lifecycle"
        assert state.value in reason.message and transition.value in reason.message
        assert reason.details == {"from_state": state.value, "transition": transition.value}
        with pytest.raises(InvalidTransition) as exc:
            next_state(state, transition)
        assert exc.value.details["from_state"] == state.value
        assert exc.value.details["rule"] == "lifecycle"


def test_fixture_covers_every_state_and_transition_once() -> None:
    seen = [(TableState(c["state"]), Transition(c["transition"])) for c in load(FIXTURE, "cases")]
    assert sorted(seen) == sorted(itertools.product(TableState, Transition))


def test_read_only_never_changes() -> None:
    for transition in Transition:
        assert decide_transition(TableState.READ_ONLY, transition).verdict == Verdict.BLOCK


def test_nothing_returns_to_shadow_or_read_only() -> None:
    for state, transition in itertools.product(TableState, Transition):
        if decide_transition(state, transition).allowed:
            assert next_state(state, transition) in {TableState.ACTIVE, TableState.DEPRECATED}
