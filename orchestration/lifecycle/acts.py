"""An act on a canonical view, crash-consistent: intent, view, catalog, in that order.

1. Under the warehouse's exclusive lock, settle anything left pending by an interrupted act.
2. In one locked catalog transaction: decide (the caller's ``prepare``), then record the intent.
3. Point the canonical view at the new version (or remove it).
4. In one locked catalog transaction: apply the state change and audit it (``commit``), and
   close the intent, together.

Killed between 2 and 4, the next command finds the pending intent and puts the view back on
what the catalog says; an exception does the same at once. Nobody ever sees the catalog and
the view disagree once a command has answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from orchestration.catalog import Catalog, IntentStatus, TransitionTx
from orchestration.identity import Actor
from orchestration.lifecycle.recovery import Recovery
from orchestration.warehouse import Warehouse, acting_as
from policies.naming import TableRef

logger = logging.getLogger(__name__)
P = TypeVar("P")


@dataclass(frozen=True)
class ViewChange:
    before: int | None  # the version the view shows now (None: no view)
    after: int | None  # the version it shows once the act is done


class Acts:
    def __init__(self, catalog: Catalog, warehouse: Warehouse, recovery: Recovery) -> None:
        self._catalog = catalog
        self._warehouse = warehouse
        self._recovery = recovery

    @property
    def dialect(self) -> str:
        """The warehouse's SQL dialect: the one its schemas' types are spelled in."""
        return self._warehouse.dialect

    def change_view(
        self,
        ref: TableRef,
        action: str,
        actor: Actor,
        prepare: Callable[[TransitionTx], tuple[P, ViewChange]],
        commit: Callable[[TransitionTx, P], None],
    ) -> P:
        name = ref.canonical
        with self._warehouse.exclusive(), acting_as(actor.name):
            self._recovery.settle(actor.name, table=name)
            with self._catalog.transition(name) as tx:
                plan, change = prepare(tx)
                intent = tx.open_intent(
                    action, change.before, change.after, actor.name, actor.launched_by
                )
                seen = tx.table.row_version
            committed = False
            try:
                self._warehouse.point_view(ref, change.after)
                with self._catalog.transition(name, expected_row_version=seen) as tx:
                    commit(tx, plan)
                    tx.close_intent(intent, IntentStatus.DONE)
                committed = True
            finally:
                if not committed:
                    self._undo(actor)
        return plan

    def _undo(self, actor: Actor) -> None:
        """Put the view back at once; if that fails too, the next command does it."""
        try:
            self._recovery.settle(actor.name)
        except Exception:
            logger.exception("undoing an interrupted act failed; the next command settles it")
