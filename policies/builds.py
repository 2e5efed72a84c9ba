"""May a model be built now? Only on what its readers would see: the canonical views it reads.

A model reads the tables of the layers below through their canonical views, which exist only
for ACTIVE tables. A scheduled run on a fresh install must not crash on a view that does not
exist yet: it builds what it can and says, per model, what waits and what would unblock it.
"""

from __future__ import annotations

from collections.abc import Mapping

from policies.decisions import Decision, combine_all
from policies.lifecycle import TableState


def first_promotion_hint(table: str) -> str:
    return f"an admin promotes it with `spyne tables promote {table}`"


def upstream_rule(table: str, upstream: str, state: TableState | None) -> Decision:
    """One table the model reads: readable when ACTIVE; otherwise why not and what to do."""
    if state == TableState.ACTIVE:
        return Decision.allow()
    if state is None or state == TableState.SHADOW:
        why = (
            f"{upstream}, which has no canonical view yet (it waits for its first promotion: "
            f"once a version passed its gates, {first_promotion_hint(upstream)})"
        )
    elif state == TableState.DEPRECATED:
        why = f"{upstream}, which is DEPRECATED (an admin can bring it back: `spyne tables restore {upstream}`)"
    else:
        why = f"{upstream}, which is {state.value}"
    return Decision.require_approval(
        "upstream_not_readable", why, table=table, upstream=upstream, state=state
    )


def decide_build(table: str, upstream: Mapping[str, TableState | None]) -> Decision:
    """Allow when every table the model reads is ACTIVE; each other one is a reason to wait."""
    return combine_all(
        tuple(upstream_rule(table, name, state) for name, state in sorted(upstream.items()))
    )


def waiting_message(table: str, decision: Decision) -> str:
    return f"{table} is not built in this run: it reads " + "; ".join(
        r.message for r in decision.reasons
    )
