"""The one shape every policy answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from policies.errors import (
    ApprovalRequired,
    AuthenticationRequired,
    BreakingDrift,
    ConcurrentChange,
    CostLimitExceeded,
    GateFailed,
    InvalidTransition,
    ModeRefused,
    PermissionDenied,
    SpyneError,
)


class Verdict(IntEnum):
    """Ordered: combining decisions keeps the most restrictive verdict."""

    ALLOW = 0
    REWRITE = 1
    REQUIRE_APPROVAL = 2
    BLOCK = 3


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict == Verdict.ALLOW

    @classmethod
    def allow(cls, *reasons: Reason) -> Decision:
        return cls(Verdict.ALLOW, reasons)

    @classmethod
    def block(cls, rule: str, message: str, **details: Any) -> Decision:
        return cls(Verdict.BLOCK, (Reason(rule, message, details),))

    @classmethod
    def require_approval(cls, rule: str, message: str, **details: Any) -> Decision:
        return cls(Verdict.REQUIRE_APPROVAL, (Reason(rule, message, details),))

    def combine(self, other: Decision) -> Decision:
        """Most restrictive verdict wins; reasons of the winning verdict are kept first."""
        verdict = max(self.verdict, other.verdict)
        first = [d for d in (self, other) if d.verdict == verdict]
        rest = [d for d in (self, other) if d.verdict != verdict]
        reasons = tuple(r for d in (*first, *rest) for r in d.reasons)
        return Decision(verdict, reasons)

    @property
    def message(self) -> str:
        return "; ".join(r.message for r in self.reasons) or self.verdict.name.lower()

    def raise_unless_allowed(self) -> None:
        """Raise :func:`refusal` of this decision, unless it allows."""
        if not self.allowed:
            raise refusal(self)


def combine_all(decisions: tuple[Decision, ...] | list[Decision]) -> Decision:
    """Most restrictive verdict wins; every reason is kept, most restrictive first.

    Reasons are ordered by their decision's verdict, then by position, in one pass:
    folding :meth:`Decision.combine` pairwise would let a lower verdict's reasons slip
    in front of later reasons of the winning verdict.
    """
    ranked = sorted(decisions, key=lambda d: -d.verdict)  # stable: keeps rule order
    verdict = ranked[0].verdict if ranked else Verdict.ALLOW
    return Decision(verdict, tuple(r for d in ranked for r in d.reasons))


# The typed error each rule refuses with. Every surface turns a decision into an error through
# :func:`refusal`, so the CLI, Dagster and the tests see the same code for the same rule.
RULE_ERRORS: Mapping[str, type[SpyneError]] = {
    "identity": AuthenticationRequired,
    "roles": PermissionDenied,
    "system_mode": ModeRefused,
    "lifecycle": InvalidTransition,
    "already_active": InvalidTransition,
    "retention": InvalidTransition,
    "concurrent": ConcurrentChange,
    "gates": GateFailed,
    "drift": BreakingDrift,
    "approval": ApprovalRequired,
    "cost": CostLimitExceeded,
}


def refusal(decision: Decision) -> SpyneError:
    """The typed error for a decision that does not allow: its most restrictive reason's rule."""
    if decision.allowed:
        raise ValueError("an allowing decision is not a refusal")
    first = decision.reasons[0] if decision.reasons else None
    rule = first.rule if first else "policy"
    details: dict[str, Any] = {"rule": rule, "verdict": decision.verdict.name}
    if first is not None:
        details.update(first.details)
    details["reasons"] = [{"rule": r.rule, "message": r.message} for r in decision.reasons]
    return RULE_ERRORS.get(rule, InvalidTransition)(decision.message, details=details)
