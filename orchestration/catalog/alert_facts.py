"""Read-only facts the sensors and the metrics need, each in one query whatever the catalog's size.

The drift sensor reads every ACTIVE schema of a layer at once; the alert sensor follows the
audit log from a cursor (its ids only grow, so a cursor survives restarts and never skips an
entry); the metrics count what the catalog already records (gate verdicts, promotions, landed
rows), so they are right after a restart and the same from every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.control_tables import audit_log, state_history, table_versions, tables
from orchestration.catalog.engine import Database
from orchestration.catalog.snapshots import AuditEntry, audit_entry
from policies.lifecycle import TableState
from policies.naming import Layer


class AlertFacts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def active_schemas(self, layer: Layer) -> dict[str, tuple[int, list[dict[str, Any]]]]:
        """Canonical name -> (ACTIVE version, its schema) for every ACTIVE table of ``layer``."""
        stmt = (
            sa.select(tables.c.name, table_versions.c.version, table_versions.c.schema_json)
            .join(
                table_versions,
                sa.and_(
                    table_versions.c.table_name == tables.c.name,
                    table_versions.c.version == tables.c.active_version,
                ),
            )
            .where(tables.c.layer == layer.value, tables.c.state == TableState.ACTIVE.value)
        )
        with self._db.connect(write=False) as s:
            rows = s.execute(stmt).tuples().all()
        return {str(name): (int(version), list(schema)) for name, version, schema in rows}

    def audit_after(
        self, after_id: int, actions: Sequence[str], limit: int = 500
    ) -> list[AuditEntry]:
        """Entries of ``actions`` with an id above ``after_id``, oldest first."""
        stmt = (
            sa.select(audit_log)
            .where(audit_log.c.id > after_id, audit_log.c.action.in_(list(actions)))
            .order_by(audit_log.c.id)
            .limit(limit)
        )
        with self._db.connect(write=False) as s:
            return [audit_entry(r) for r in s.execute(stmt).all()]

    def last_audit_id(self) -> int:
        with self._db.connect(write=False) as s:
            return int(s.scalar(sa.select(sa.func.max(audit_log.c.id))) or 0)

    def gate_failures(self) -> dict[str, int]:
        """Versions whose gate failed, per table."""
        stmt = (
            sa.select(table_versions.c.table_name, sa.func.count())
            .where(table_versions.c.gate_status == "failed")
            .group_by(table_versions.c.table_name)
        )
        with self._db.connect(write=False) as s:
            return {str(t): int(n) for t, n in s.execute(stmt).tuples().all()}

    def promotions(self) -> dict[tuple[str, str], int]:
        """State changes per (from state, to state)."""
        stmt = sa.select(
            state_history.c.from_state, state_history.c.to_state, sa.func.count()
        ).group_by(state_history.c.from_state, state_history.c.to_state)
        with self._db.connect(write=False) as s:
            return {(str(a), str(b)): int(n) for a, b, n in s.execute(stmt).tuples().all()}

    def landed_rows(self) -> dict[tuple[str, str], int]:
        """Rows landed in bronze per (table, gate status of the version they landed in)."""
        stmt = (
            sa.select(
                table_versions.c.table_name,
                table_versions.c.gate_status,
                sa.func.sum(table_versions.c.row_count),
            )
            .join(tables, tables.c.name == table_versions.c.table_name)
            .where(tables.c.layer == Layer.BRONZE.value)
            .group_by(table_versions.c.table_name, table_versions.c.gate_status)
        )
        with self._db.connect(write=False) as s:
            return {(str(t), str(g)): int(n or 0) for t, g, n in s.execute(stmt).tuples().all()}

    def range_runs(self, action: str) -> list[tuple[str, int]]:
        """Completed replays or backfills (``action``): per run, its table and rows that entered."""
        stmt = sa.select(audit_log.c.target, audit_log.c.details).where(
            audit_log.c.action == action, audit_log.c.outcome == "recorded"
        )
        with self._db.connect(write=False) as s:
            rows = s.execute(stmt).tuples().all()
        return [
            (str(target), int((details or {}).get("rows_accepted") or 0))
            for target, details in rows
        ]
