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

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, intents
from orchestration.catalog.engine import Database
from orchestration.catalog.snapshots import IntentInfo, IntentStatus, intent_info
from policies.errors import InvalidTransition, NotFound


def open_intent(
    conn: sa.Connection,
    table: str,
    action: str,
    from_version: int | None,
    to_version: int | None,
    actor: str,
    launched_by: str | None,
) -> int:
    inserted = conn.execute(
        sa.insert(intents)
        .values(
            table_name=table,
            action=action,
            from_version=from_version,
            to_version=to_version,
            actor=actor,
            launched_by=launched_by,
            created_at=now(),
            status=IntentStatus.PENDING.value,
        )
        .returning(intents.c.id)
    )
    return int(inserted.scalar_one())


def close_intent(
    conn: sa.Connection, intent_id: int, status: IntentStatus, note: str | None
) -> None:
    if status == IntentStatus.PENDING:
        raise ValueError("an intent closes as done or undone")
    row = conn.execute(
        sa.select(intents).where(intents.c.id == intent_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no intent {intent_id}", details={"intent": intent_id})
    if row.status != IntentStatus.PENDING.value:
        raise InvalidTransition(
            f"intent {intent_id} was already closed ({row.status}); someone else settled it",
            details={"intent": intent_id, "status": row.status},
        )
    conn.execute(
        sa.update(intents)
        .where(intents.c.id == intent_id)
        .values(status=status.value, finished_at=now(), note=note)
    )


class Intents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, table: str | None = None) -> list[IntentInfo]:
        """Open intents, oldest first: interrupted acts (or, for a moment, running ones)."""
        stmt = sa.select(intents).where(intents.c.status == IntentStatus.PENDING.value)
        if table is not None:
            stmt = stmt.where(intents.c.table_name == table)
        with self._db.connect(write=False) as c:
            return [intent_info(r) for r in c.execute(stmt.order_by(intents.c.id)).all()]

    def any_pending(self) -> bool:
        """One indexed lookup: what every command asks before it answers."""
        with self._db.connect(write=False) as c:
            found = c.scalar(
                sa.select(intents.c.id)
                .where(intents.c.status == IntentStatus.PENDING.value)
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
        with self._db.connect(write=True) as c:
            close_intent(c, intent.id, status, note)
            append(
                self._db,
                c,
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
