"""Dead letters: runs whose retries are used up, kept with their step history until a person acts.

The run-failure sensor records a run here once (the same run seen twice is recorded once). An
admin requeues it at most once: the claim names the new run and is audited in the same
transaction, so two admins requeueing at once launch one run, and the second is told which.
History is never rewritten and rows are never deleted (guards in the database).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, dead_letters
from orchestration.catalog.engine import Database
from orchestration.catalog.snapshots import DeadLetterInfo, Row, dead_letter_info
from orchestration.jsonable import json_safe
from policies.errors import InvalidTransition, NotFound
from policies.failures import FailureClass

RECORD_ACTION = "dead_letter"
REQUEUE_ACTION = "requeue_run"


@dataclass(frozen=True)
class NewDeadLetter:
    """What the sensor knows about a run whose retries are used up."""

    run_id: str
    job_name: str
    selection: Mapping[str, Any]
    failure_class: FailureClass
    why: str
    steps: Sequence[Mapping[str, Any]]
    failed_at: datetime
    org: str | None = None
    launched_by: str | None = None


class DeadLetters:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, letter: NewDeadLetter, actor: str, launched_by: str | None) -> DeadLetterInfo:
        """Add a run to the list (audited); a run already there is returned as it is."""
        with self._db.connect(write=True) as c:
            found = _find(c, letter.run_id)
            if found is not None:
                return dead_letter_info(found)
            c.execute(
                sa.insert(dead_letters).values(
                    run_id=letter.run_id,
                    job_name=letter.job_name,
                    selection=json_safe(dict(letter.selection)),
                    org=letter.org,
                    launched_by=letter.launched_by,
                    failure_class=letter.failure_class.value,
                    why=letter.why,
                    steps=json_safe([dict(step) for step in letter.steps]),
                    failed_at=letter.failed_at,
                    recorded_at=now(),
                    recorded_by=actor,
                )
            )
            append(
                self._db,
                c,
                actor,
                RECORD_ACTION,
                f"run:{letter.run_id}",
                AuditOutcome.RECORDED,
                {
                    "job": letter.job_name,
                    "failure_class": letter.failure_class.value,
                    "why": letter.why,
                    "steps": len(letter.steps),
                },
                launched_by,
            )
            return _require(c, letter.run_id)

    def all(self, include_requeued: bool = False) -> list[DeadLetterInfo]:
        """Newest first; requeued ones only when asked."""
        stmt = sa.select(dead_letters).order_by(dead_letters.c.id.desc())
        if not include_requeued:
            stmt = stmt.where(dead_letters.c.requeued_run_id.is_(None))
        with self._db.connect(write=False) as c:
            return [dead_letter_info(r) for r in c.execute(stmt).all()]

    def get(self, run_id: str) -> DeadLetterInfo:
        with self._db.connect(write=False) as c:
            return _require(c, run_id)

    def claim_requeue(
        self, run_id: str, new_run_id: str, actor: str, launched_by: str | None
    ) -> DeadLetterInfo:
        """Mark a dead letter requeued as ``new_run_id`` (audited); refused if it already was."""
        with self._db.connect(write=True) as c:
            row = _find(c, run_id, lock=True)
            if row is None:
                raise _missing(run_id)
            if row.requeued_run_id is not None:
                raise InvalidTransition(
                    f"run {run_id} was already requeued as run {row.requeued_run_id} by "
                    f"{row.requeued_by}; follow that run instead",
                    details={"run_id": run_id, "requeued_run_id": row.requeued_run_id},
                )
            c.execute(
                sa.update(dead_letters)
                .where(dead_letters.c.run_id == run_id)
                .values(requeued_at=now(), requeued_by=actor, requeued_run_id=new_run_id)
            )
            append(
                self._db,
                c,
                actor,
                REQUEUE_ACTION,
                f"run:{run_id}",
                AuditOutcome.ALLOWED,
                {"new_run_id": new_run_id, "job": row.job_name},
                launched_by,
            )
            return _require(c, run_id)


def _find(conn: sa.Connection, run_id: str, lock: bool = False) -> Row | None:
    stmt = sa.select(dead_letters).where(dead_letters.c.run_id == run_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def _require(conn: sa.Connection, run_id: str) -> DeadLetterInfo:
    row = _find(conn, run_id)
    if row is None:
        raise _missing(run_id)
    return dead_letter_info(row)


def _missing(run_id: str) -> NotFound:
    return NotFound(
        f"run {run_id} is not in the dead-letter list; see `spyne runs dead-letters`",
        details={"run_id": run_id},
    )
