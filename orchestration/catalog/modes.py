"""The system mode: a versioned, append-only list; the newest row is the mode."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestration.catalog.audit import append, now
from orchestration.catalog.engine import PG_LOCK_MODE, Database
from orchestration.catalog.models import AuditOutcome, SystemModeRow
from orchestration.catalog.snapshots import ModeInfo, mode_info
from policies.modes import SystemMode

MODE_TARGET = "system_mode"


def current(session: Session) -> ModeInfo:
    row = session.scalars(
        sa.select(SystemModeRow).order_by(SystemModeRow.version.desc()).limit(1)
    ).first()
    return mode_info(row)


class Modes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def current(self) -> ModeInfo:
        """The newest mode row; READ_ONLY (version 0) when none was ever set."""
        with self._db.session(write=False) as s:
            return current(s)

    def set(
        self,
        mode: SystemMode,
        actor: str,
        reason: str | None = None,
        launched_by: str | None = None,
    ) -> ModeInfo:
        """Append a new mode version and its audit entry, atomically."""
        with self._db.session(write=True) as s:
            self._db.pg_lock(s, PG_LOCK_MODE)
            before = current(s)
            row = SystemModeRow(
                version=before.version + 1,
                mode=mode.value,
                changed_at=now(),
                changed_by=actor,
                reason=reason,
            )
            s.add(row)
            s.flush()
            append(
                self._db,
                s,
                actor,
                "set_mode",
                MODE_TARGET,
                AuditOutcome.ALLOWED,
                {
                    "from": before.mode.value,
                    "to": mode.value,
                    "version": row.version,
                    "reason": reason,
                },
                launched_by,
            )
            return mode_info(row)
