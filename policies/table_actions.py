"""May this table be rolled back, deprecated or restored? And to which version does "back" go?

Rules share one signature ``(facts) -> Decision`` and are combined in order, as for publishing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policies.decisions import Decision, combine_all
from policies.errors import NotFound
from policies.lifecycle import TableState, Transition, decide_transition
from policies.publish import GateStatus
from policies.roles import Operation, Role
from policies.rule_helpers import about, checked_optional_version, checked_table, role_rule


@dataclass(frozen=True)
class RollbackFacts:
    table: str
    table_state: TableState
    target_version: int
    active_version: int | None
    target_retained: bool
    target_gate_status: GateStatus
    actor_role: Role

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", checked_table(self.table))
        checked_optional_version(self.target_version, "target_version")
        checked_optional_version(self.active_version, "active_version")

    @property
    def prefix(self) -> str:
        return f"cannot roll {self.table} back to v{self.target_version}"

    @property
    def ids(self) -> dict[str, Any]:
        return {"table": self.table, "version": self.target_version}


def rollback_lifecycle(facts: RollbackFacts) -> Decision:
    return about(
        decide_transition(facts.table_state, Transition.ROLLBACK), facts.prefix, **facts.ids
    )


def rollback_role(facts: RollbackFacts) -> Decision:
    return role_rule(facts.actor_role, Operation.ROLLBACK, facts.prefix, **facts.ids)


def rollback_target(facts: RollbackFacts) -> Decision:
    if facts.target_version != facts.active_version:
        return Decision.allow()
    return Decision.block(
        "already_active",
        f"{facts.prefix}: v{facts.target_version} is already the active version; choose "
        f"another retained version (spyne tables history {facts.table})",
        active_version=facts.active_version,
        **facts.ids,
    )


def rollback_retained(facts: RollbackFacts) -> Decision:
    if facts.target_retained:
        return Decision.allow()
    return Decision.block(
        "retention",
        f"{facts.prefix}: v{facts.target_version} is no longer retained (its rollback "
        f"window has passed); choose a retained version (spyne tables history {facts.table})",
        **facts.ids,
    )


def rollback_gates(facts: RollbackFacts) -> Decision:
    if facts.target_gate_status == GateStatus.PASSED:
        return Decision.allow()
    return Decision.block(
        "gates",
        f"{facts.prefix}: its gates are {facts.target_gate_status.value.replace('_', ' ')}, "
        "and only a version that passed its gates can be active; choose a version that passed",
        gate_status=facts.target_gate_status.value,
        **facts.ids,
    )


ROLLBACK_RULES: tuple[Callable[[RollbackFacts], Decision], ...] = (
    rollback_lifecycle,
    rollback_role,
    rollback_target,
    rollback_retained,
    rollback_gates,
)


def decide_rollback(facts: RollbackFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in ROLLBACK_RULES))


@dataclass(frozen=True)
class TableActionFacts:
    """Facts for a state change that only needs the lifecycle and the actor's role."""

    table: str
    table_state: TableState
    actor_role: Role

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", checked_table(self.table))


def _decide_action(
    facts: TableActionFacts, transition: Transition, operation: Operation
) -> Decision:
    prefix = f"cannot {transition.value} {facts.table}"
    ids = {"table": facts.table}
    return combine_all(
        (
            about(decide_transition(facts.table_state, transition), prefix, **ids),
            role_rule(facts.actor_role, operation, prefix, **ids),
        )
    )


def decide_restore(facts: TableActionFacts) -> Decision:
    return _decide_action(facts, Transition.RESTORE, Operation.RESTORE)


def decide_deprecate(facts: TableActionFacts) -> Decision:
    return _decide_action(facts, Transition.DEPRECATE, Operation.DEPRECATE)


@dataclass(frozen=True)
class PastVersion:
    """A retained version as the choice of a rollback target sees it."""

    version: int
    last_active_at: datetime | None  # when it stopped being ACTIVE; None if it never was


def previous_active_version(
    table: str, active_version: int | None, retained: Sequence[PastVersion]
) -> int:
    """What "roll back" means without a number: the most recently superseded retained version.

    Versions that were never ACTIVE are not candidates: going back means going to something
    people already saw as canonical.
    """
    candidates = [
        v for v in retained if v.version != active_version and v.last_active_at is not None
    ]
    if not candidates:
        raise NotFound(
            f"{table} has no earlier ACTIVE version within retention to roll back to; "
            f"use --to-version N with a retained version (spyne tables history {table})",
            details={"table": table, "retained": sorted(v.version for v in retained)},
        )
    return max(candidates, key=lambda v: (v.last_active_at, v.version)).version
