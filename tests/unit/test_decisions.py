from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.decisions import Decision, Reason, Verdict, combine_all, refusal
from policies.errors import GateFailed


def test_verdicts_are_ordered_by_restriction() -> None:
    assert Verdict.ALLOW < Verdict.REWRITE < Verdict.REQUIRE_APPROVAL < Verdict.BLOCK


def test_block_beats_approval_and_keeps_every_reason_winner_first() -> None:
    approval = Decision.require_approval("approval", "ask an admin")
    block = Decision.block("gates", "gates failed", suite="orders")
    combined = combine_all([approval, Decision.allow(), block])
    assert combined.verdict == Verdict.BLOCK
    assert [r.rule for r in combined.reasons] == ["gates", "approval"]
    assert combined.message == "gates failed; ask an admin"


def test_empty_combination_allows() -> None:
    assert combine_all(()) == Decision.allow()
    assert Decision.allow().message == "allow"


def test_raise_unless_allowed_carries_the_first_reason() -> None:
    decision = Decision.block("gates", "gates failed for gold.x v2", suite="orders")
    with pytest.raises(GateFailed) as exc:
        decision.raise_unless_allowed()
    assert exc.value.to_dict() == {
        "code": "gate_failed",
        "message": "gates failed for gold.x v2",
        "details": {
            "rule": "gates",
            "verdict": "BLOCK",
            "suite": "orders",
            "reasons": [{"rule": "gates", "message": "gates failed for gold.x v2"}],
        },
    }
    Decision.allow().raise_unless_allowed()


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("identity", "authentication_required"),
        ("roles", "permission_denied"),
        ("system_mode", "mode_refused"),
        ("lifecycle", "invalid_transition"),
        ("gates", "gate_failed"),
        ("drift", "breaking_drift"),
        ("approval", "approval_required"),
        ("concurrent", "concurrent_change"),
        ("a_rule_without_its_own_error", "invalid_transition"),
    ],
)
def test_every_rule_has_its_typed_refusal(rule: str, code: str) -> None:
    assert refusal(Decision.block(rule, "no")).code == code
    with pytest.raises(ValueError):
        refusal(Decision.allow())


decisions = st.builds(
    lambda verdict, rule: Decision(verdict, (Reason(rule, f"{rule} says {verdict.name}"),)),
    st.sampled_from(list(Verdict)),
    st.sampled_from(["a", "b", "c"]),
)


@given(st.lists(decisions, max_size=6))
def test_combination_is_the_most_restrictive_and_loses_nothing(ds: list[Decision]) -> None:
    combined = combine_all(ds)
    assert combined.verdict == max((d.verdict for d in ds), default=Verdict.ALLOW)
    assert sorted(combined.reasons, key=repr) == sorted(
        (r for d in ds for r in d.reasons), key=repr
    )
    # most restrictive first; within one verdict, in the order the rules ran
    expected = [
        r for v in sorted(Verdict, reverse=True) for d in ds if d.verdict == v for r in d.reasons
    ]
    assert list(combined.reasons) == expected


@given(decisions, decisions)
def test_combine_all_agrees_with_pairwise_combine(a: Decision, b: Decision) -> None:
    assert combine_all([a, b]) == a.combine(b)
