"""Table lifecycle: the states a table can be in and the moves between them."""

from __future__ import annotations

from enum import StrEnum

from policies.decisions import Decision


class TableState(StrEnum):
    READ_ONLY = "READ_ONLY"  # external source table; Spyne never writes it
    SHADOW = "SHADOW"  # built, never published; isolated
    ACTIVE = "ACTIVE"  # canonical: the view points at one version
    DEPRECATED = "DEPRECATED"  # hidden; versions kept; restorable


class Transition(StrEnum):
    PROMOTE = "promote"  # publish a shadow version (first time: SHADOW -> ACTIVE)
    DEPRECATE = "deprecate"
    RESTORE = "restore"
    ROLLBACK = "rollback"  # point an ACTIVE table back at a retained version


# (from_state, transition) -> to_state. Everything absent is refused.
_ALLOWED: dict[tuple[TableState, Transition], TableState] = {
    (TableState.SHADOW, Transition.PROMOTE): TableState.ACTIVE,
    (TableState.ACTIVE, Transition.PROMOTE): TableState.ACTIVE,
    (TableState.ACTIVE, Transition.ROLLBACK): TableState.ACTIVE,
    (TableState.ACTIVE, Transition.DEPRECATE): TableState.DEPRECATED,
    (TableState.DEPRECATED, Transition.RESTORE): TableState.ACTIVE,
}

_HINTS: dict[TableState, str] = {
    TableState.READ_ONLY: "READ_ONLY tables are external sources and never change state",
    TableState.SHADOW: "a SHADOW table can only be promoted",
    TableState.ACTIVE: "an ACTIVE table can be promoted to a newer version, rolled back or deprecated",
    TableState.DEPRECATED: "a DEPRECATED table must be restored before anything else",
}


def decide_transition(state: TableState, transition: Transition) -> Decision:
    target = _ALLOWED.get((state, transition))
    if target is None:
        return Decision.block(
            "lifecycle",
            f"cannot {transition.value} a table in state {state.value}: {_HINTS[state]}",
            from_state=state.value,
            transition=transition.value,
        )
    return Decision.allow()


def next_state(state: TableState, transition: Transition) -> TableState:
    """The state after ``transition``; raises :class:`InvalidTransition` naming both states."""
    decide_transition(state, transition).raise_unless_allowed()
    return _ALLOWED[(state, transition)]
