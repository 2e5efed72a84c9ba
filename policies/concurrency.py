"""Optimistic concurrency: act only on the state the person saw.

A command shows a table's ACTIVE version, then acts on it; meanwhile a run may have
published another version. The command passes what it saw (``expected_active``; 0 for
"nothing was ACTIVE") and the act is refused, with the current state, when it changed.
"""

from __future__ import annotations

from policies.decisions import Decision
from policies.lifecycle import TableState


def decide_expected_active(
    table: str, expected_active: int | None, active_version: int | None, state: TableState
) -> Decision:
    """Allow when nothing was expected (None) or the ACTIVE version is the one expected."""
    if expected_active is None or expected_active == (active_version or 0):
        return Decision.allow()
    seen = f"v{expected_active}" if expected_active else "no ACTIVE version"
    now = f"v{active_version}" if active_version else "no ACTIVE version"
    return Decision.block(
        "concurrent",
        f"{table} changed since you looked at it: you saw {seen}, it now has {now} "
        f"(state {state.value}); look again (spyne tables history {table}) and retry",
        table=table,
        expected_active=expected_active,
        active_version=active_version,
        state=state.value,
    )
