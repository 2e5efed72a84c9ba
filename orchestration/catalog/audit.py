"""The audit log: append-only in the database, and a hash chain that shows any rewrite.

The database refuses UPDATE and DELETE on ``audit_log`` (triggers; on PostgreSQL the
application role may only read and insert). The chain covers what those guards cannot: a
person with the owner's rights who drops a trigger, edits a row and puts the trigger back.
Each row carries a gapless ``seq`` and ``row_hash = sha256(prev_hash + canonical row)``, so
an edited, deleted or inserted row breaks the chain at that row, and ``spyne audit verify``
names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.control_tables import AuditOutcome, audit_log
from orchestration.catalog.engine import PG_LOCK_AUDIT, Database, Runner
from orchestration.catalog.snapshots import AuditEntry, Row, audit_entry, parse_enum
from orchestration.jsonable import json_safe

GENESIS = "0" * 64
_VERIFY_BATCH = 5000


def now() -> datetime:
    return datetime.now(UTC)


def chain_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    launched_by: str | None,
    action: str,
    target: str | None,
    outcome: str,
    details: Mapping[str, Any],
) -> str:
    """The hash of one row, chained to the previous row's hash."""
    body = json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "launched_by": launched_by,
            "action": action,
            "target": target,
            "outcome": outcome,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def row_chain_hash(row: Row | AuditEntry, prev_hash: str) -> str:
    outcome = row.outcome.value if isinstance(row.outcome, AuditOutcome) else str(row.outcome)
    return chain_hash(
        prev_hash,
        seq=int(row.seq or 0),
        at=row.at,
        actor=row.actor,
        launched_by=row.launched_by,
        action=row.action,
        target=row.target,
        outcome=outcome,
        details=dict(row.details or {}),
    )


def append(
    db: Database,
    runner: Runner,
    actor: str,
    action: str,
    target: str | None,
    outcome: AuditOutcome | str,
    details: Mapping[str, Any] | None,
    launched_by: str | None = None,
) -> int:
    """Append one entry in the caller's transaction, chained to the newest entry.

    Appends are serialised (an advisory lock on PostgreSQL; SQLite writers already queue), so
    two transactions never chain to the same predecessor. Take it last in a transaction.
    """
    db.pg_lock(runner, PG_LOCK_AUDIT)
    head = runner.execute(
        sa.select(audit_log.c.seq, audit_log.c.row_hash)
        .where(audit_log.c.seq.is_not(None))
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    ).first()
    seq = int(head[0] or 0) + 1 if head else 1
    prev = str(head[1]) if head else GENESIS
    row: dict[str, Any] = {
        "seq": seq,
        "at": now(),
        "actor": actor,
        "launched_by": launched_by,
        "action": action,
        "target": target,
        "outcome": parse_enum(AuditOutcome, outcome, "audit outcome", "outcome").value,
        "details": json_safe(dict(details or {})),
    }
    inserted = runner.execute(
        sa.insert(audit_log)
        .values(**row, prev_hash=prev, row_hash=chain_hash(prev, **row))
        .returning(audit_log.c.id)
    )
    return int(inserted.scalar_one())


@dataclass(frozen=True)
class ChainVerdict:
    """What ``spyne audit verify`` found: the first broken link, or none."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_seq": self.broken_seq,
            "broken_id": self.broken_id,
            "reason": self.reason,
        }


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        actor: str,
        action: str,
        target: str | None,
        outcome: AuditOutcome | str,
        details: Mapping[str, Any] | None = None,
        launched_by: str | None = None,
    ) -> int:
        """Append one entry in its own transaction (so refusals are kept too)."""
        with self._db.connect(write=True) as c:
            return append(self._db, c, actor, action, target, outcome, details, launched_by)

    def entries(
        self, limit: int = 50, target: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        stmt = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(max(0, limit))
        if target is not None:
            stmt = stmt.where(audit_log.c.target == target)
        if action is not None:
            stmt = stmt.where(audit_log.c.action == action)
        with self._db.connect(write=False) as c:
            return [audit_entry(r) for r in c.execute(stmt).all()]

    def verify(self) -> ChainVerdict:
        """Walk the whole chain in order; stop at the first row whose link does not hold."""
        prev, expected_seq, checked = GENESIS, 1, 0
        last_id = 0
        with self._db.connect(write=False) as c:
            while True:
                rows = c.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.id > last_id)
                    .order_by(audit_log.c.id)
                    .limit(_VERIFY_BATCH)
                ).all()
                if not rows:
                    break
                for row in rows:
                    problem = _link_problem(row, prev, expected_seq)
                    if problem is not None:
                        return ChainVerdict(
                            False, checked, expected_seq - 1, prev, row.seq, row.id, problem
                        )
                    prev, expected_seq, checked = str(row.row_hash), expected_seq + 1, checked + 1
                    last_id = row.id
        return ChainVerdict(True, checked, expected_seq - 1, prev)


def _link_problem(row: Row, prev: str, expected_seq: int) -> str | None:
    if row.seq is None or row.row_hash is None or row.prev_hash is None:
        return f"entry {row.id} has no place in the chain (written around the application)"
    if row.seq != expected_seq:
        kind = "missing" if row.seq > expected_seq else "repeated"
        return (
            f"entries are {kind} before entry {row.id}: expected sequence {expected_seq}, "
            f"found {row.seq}"
        )
    if row.prev_hash != prev:
        return f"entry {row.id} (seq {row.seq}) does not link to the entry before it"
    if row_chain_hash(row, prev) != row.row_hash:
        return f"entry {row.id} (seq {row.seq}) was changed after it was written"
    return None
