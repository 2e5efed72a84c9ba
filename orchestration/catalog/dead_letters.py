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
from orchestration.catalog.engine import Database
from orchestration.catalog.models import AuditOutcome, DeadLetterRow
from orchestration.catalog.snapshots import DeadLetterInfo, dead_letter_info
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
        with self._db.session(write=True) as s:
            found = s.scalar(sa.select(DeadLetterRow).where(DeadLetterRow.run_id == letter.run_id))
            if found is not None:
                return dead_letter_info(found)
            row = DeadLetterRow(
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
            s.add(row)
            s.flush()
            append(
                self._db,
                s,
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
            return dead_letter_info(row)

    def all(self, include_requeued: bool = False) -> list[DeadLetterInfo]:
        """Newest first; requeued ones only when asked."""
        stmt = sa.select(DeadLetterRow).order_by(DeadLetterRow.id.desc())
        if not include_requeued:
            stmt = stmt.where(DeadLetterRow.requeued_run_id.is_(None))
        with self._db.session(write=False) as s:
            return [dead_letter_info(r) for r in s.scalars(stmt).all()]

    def get(self, run_id: str) -> DeadLetterInfo:
        with self._db.session(write=False) as s:
            row = s.scalar(sa.select(DeadLetterRow).where(DeadLetterRow.run_id == run_id))
            if row is None:
                raise _missing(run_id)
            return dead_letter_info(row)

    def claim_requeue(
        self, run_id: str, new_run_id: str, actor: str, launched_by: str | None
    ) -> DeadLetterInfo:
        """Mark a dead letter requeued as ``new_run_id`` (audited); refused if it already was."""
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(DeadLetterRow).where(DeadLetterRow.run_id == run_id).with_for_update()
            )
            if row is None:
                raise _missing(run_id)
            if row.requeued_run_id is not None:
                raise InvalidTransition(
                    f"run {run_id} was already requeued as run {row.requeued_run_id} by "
                    f"{row.requeued_by}; follow that run instead",
                    details={"run_id": run_id, "requeued_run_id": row.requeued_run_id},
                )
            row.requeued_at = now()
            row.requeued_by = actor
            row.requeued_run_id = new_run_id
            s.flush()
            append(
                self._db,
                s,
                actor,
                REQUEUE_ACTION,
                f"run:{run_id}",
                AuditOutcome.ALLOWED,
                {"new_run_id": new_run_id, "job": row.job_name},
                launched_by,
            )
            return dead_letter_info(row)


def _missing(run_id: str) -> NotFound:
    return NotFound(
        f"run {run_id} is not in the dead-letter list; see `spyne runs dead-letters`",
        details={"run_id": run_id},
    )
