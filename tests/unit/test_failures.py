from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import load, params

from policies.failures import (
    RULES,
    UNCLASSIFIED,
    Classification,
    FailureClass,
    FailureFacts,
    RunFailure,
    StepFailure,
    classify,
    decide_dead_letter,
    read_description,
)

FIXTURE = "failures.yaml"


def _facts(raw: dict[str, Any]) -> FailureFacts:
    return FailureFacts(**{**raw, "bases": tuple(raw.get("bases", ()))})


@pytest.mark.parametrize("case", params(FIXTURE, "classify"))
def test_classify(case: dict[str, Any]) -> None:
    found = classify(_facts(case["facts"]))
    assert found.failure_class == FailureClass(case["expected"]["class"])
    assert found.retryable is case["expected"]["retryable"]
    assert found.why


def test_every_class_is_reached_by_some_fixture() -> None:
    reached = {classify(_facts(c["facts"])).failure_class for c in load(FIXTURE, "classify")}
    assert reached == set(FailureClass)


def test_every_rule_decides_some_fixture() -> None:
    """A rule no fixture reaches is untested (or dead): each one must decide at least one case."""
    deciding = {classify(_facts(c["facts"])).rule for c in load(FIXTURE, "classify")}
    assert {rule.__name__ for rule in RULES} <= deciding


def test_terminal_classes_are_never_retryable() -> None:
    for case in load(FIXTURE, "classify"):
        found = classify(_facts(case["facts"]))
        if found.failure_class in (
            FailureClass.PERMISSION_DENIED,
            FailureClass.VALIDATION_FAILED,
            FailureClass.PARTIAL_RESULTS,
            FailureClass.UNCLASSIFIED,
        ):
            assert not found.retryable, case["id"]


def test_rules_are_tried_in_order_and_the_fallback_is_terminal() -> None:
    assert classify(FailureFacts(message="anything"), rules=()) == UNCLASSIFIED
    first = Classification(FailureClass.TIMEOUT, True, "first", "x")
    assert classify(FailureFacts(), rules=(lambda f: first, lambda f: UNCLASSIFIED)) is first


@pytest.mark.parametrize("case", params(FIXTURE, "descriptions"))
def test_description_round_trip(case: dict[str, Any]) -> None:
    found = read_description(case["text"])
    if case["expected"] is None:
        assert found is None
    else:
        assert found is not None
        assert found.failure_class == FailureClass(case["expected"]["class"])
        assert found.retryable is case["expected"]["retryable"]


def test_describe_is_read_back() -> None:
    for case in load(FIXTURE, "classify"):
        c = classify(_facts(case["facts"]))
        back = read_description(c.describe("some message"))
        assert back is not None
        assert (back.failure_class, back.retryable) == (c.failure_class, c.retryable)


@pytest.mark.parametrize("case", params(FIXTURE, "dead_letters"))
def test_dead_letters(case: dict[str, Any]) -> None:
    run = case["run"]
    outside = run.get("outside_steps")
    verdict = decide_dead_letter(
        RunFailure(
            run_id="r1",
            steps=tuple(
                StepFailure(
                    s["step_key"], FailureClass(s["class"]), s["retryable"], s["attempts"], "m"
                )
                for s in run["steps"]
            ),
            will_retry=run["will_retry"],
            outside_steps=None
            if outside is None
            else Classification(FailureClass(outside), True, "t", "t"),
        )
    )
    expected = case["expected"]
    assert verdict.dead_letter is expected["dead_letter"]
    assert verdict.failure_class == (FailureClass(expected["class"]) if expected["class"] else None)
    assert expected["why_contains"] in verdict.why
