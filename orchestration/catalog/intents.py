"""Intents: an act on the warehouse written down before the warehouse changes.

An act that touches the warehouse and the catalog (promote, rollback, deprecate, restore,
publish, a janitor drop) commits an intent first, then changes the warehouse, then commits
the catalog change and closes the intent in one transaction. A crash at any instant leaves
either nothing, or a pending intent that the next command finds and settles: the warehouse is
put back to what the catalog says (or, for a drop, the drop is finished) and the intent is
closed, audited.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestration.catalog.audit import append, now
from orchestration.catalog.engine import Database
from orchestration.catalog.models import AuditOutcome, IntentRow
from orchestration.catalog.snapshots import IntentInfo, IntentStatus, intent_info
from policies.errors import InvalidTransition, NotFound


def open_intent(
    session: Session,
    table: str,
    action: str,
    from_version: int | None,
    to_version: int | None,
    actor: str,
    launched_by: str | None,
) -> int:
    row = IntentRow(
        table_name=table,
        action=action,
        from_version=from_version,
        to_version=to_version,
        actor=actor,
        launched_by=launched_by,
        created_at=now(),
        status=IntentStatus.PENDING.value,
    )
    session.add(row)
    session.flush()
    return row.id


def close_intent(session: Session, intent_id: int, status: IntentStatus, note: str | None) -> None:
    if status == IntentStatus.PENDING:
        raise ValueError("an intent closes as done or undone")
    row = session.get(IntentRow, intent_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no intent {intent_id}", details={"intent": intent_id})
    if row.status != IntentStatus.PENDING.value:
        raise InvalidTransition(
            f"intent {intent_id} was already closed ({row.status}); someone else settled it",
            details={"intent": intent_id, "status": row.status},
        )
    row.status = status.value
    row.finished_at = now()
    row.note = note
    session.flush()


class Intents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, table: str | None = None) -> list[IntentInfo]:
        """Open intents, oldest first: interrupted acts (or, for a moment, running ones)."""
        stmt = sa.select(IntentRow).where(IntentRow.status == IntentStatus.PENDING.value)
        if table is not None:
            stmt = stmt.where(IntentRow.table_name == table)
        with self._db.session(write=False) as s:
            return [intent_info(r) for r in s.scalars(stmt.order_by(IntentRow.id)).all()]

    def any_pending(self) -> bool:
        """One indexed lookup: what every command asks before it answers."""
        with self._db.session(write=False) as s:
            found = s.scalar(
                sa.select(IntentRow.id)
                .where(IntentRow.status == IntentStatus.PENDING.value)
                .limit(1)
            )
            return found is not None

    def settle(
        self,
        intent: IntentInfo,
        status: IntentStatus,
        note: str,
        actor: str,
        launched_by: str | None = None,
    ) -> None:
        """Close an interrupted intent once the warehouse agrees with the catalog again (audited)."""
        with self._db.session(write=True) as s:
            close_intent(s, intent.id, status, note)
            append(
                self._db,
                s,
                actor,
                "recover",
                intent.table_name,
                AuditOutcome.RECORDED,
                {
                    "intent": intent.id,
                    "interrupted_action": intent.action,
                    "by": intent.actor,
                    "from_version": intent.from_version,
                    "to_version": intent.to_version,
                    "status": status.value,
                    "note": note,
                },
                launched_by,
            )
