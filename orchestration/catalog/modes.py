"""The system mode: a versioned, append-only list; the newest row is the mode."""

from __future__ import annotations

import sqlalchemy as sa

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, system_modes
from orchestration.catalog.engine import PG_LOCK_MODE, Database, Runner
from orchestration.catalog.snapshots import ModeInfo, mode_info
from policies.modes import SystemMode

MODE_TARGET = "system_mode"


def current(runner: Runner) -> ModeInfo:
    row = runner.execute(
        sa.select(system_modes).order_by(system_modes.c.version.desc()).limit(1)
    ).first()
    return mode_info(row)


class Modes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def current(self) -> ModeInfo:
        """The newest mode row; READ_ONLY (version 0) when none was ever set."""
        with self._db.connect(write=False) as c:
            return current(c)

    def set(
        self,
        mode: SystemMode,
        actor: str,
        reason: str | None = None,
        launched_by: str | None = None,
    ) -> ModeInfo:
        """Append a new mode version and its audit entry, atomically."""
        with self._db.connect(write=True) as c:
            self._db.pg_lock(c, PG_LOCK_MODE)
            before = current(c)
            version = before.version + 1
            c.execute(
                sa.insert(system_modes).values(
                    version=version,
                    mode=mode.value,
                    changed_at=now(),
                    changed_by=actor,
                    reason=reason,
                )
            )
            append(
                self._db,
                c,
                actor,
                "set_mode",
                MODE_TARGET,
                AuditOutcome.ALLOWED,
                {
                    "from": before.mode.value,
                    "to": mode.value,
                    "version": version,
                    "reason": reason,
                },
                launched_by,
            )
            return current(c)
