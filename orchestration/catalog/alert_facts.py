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

from orchestration.catalog.engine import Database
from orchestration.catalog.models import AuditLogRow, StateHistoryRow, TableRow, TableVersionRow
from orchestration.catalog.snapshots import AuditEntry, audit_entry
from policies.lifecycle import TableState
from policies.naming import Layer


class AlertFacts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def active_schemas(self, layer: Layer) -> dict[str, tuple[int, list[dict[str, Any]]]]:
        """Canonical name -> (ACTIVE version, its schema) for every ACTIVE table of ``layer``."""
        stmt = (
            sa.select(TableRow.name, TableVersionRow.version, TableVersionRow.schema_json)
            .join(
                TableVersionRow,
                sa.and_(
                    TableVersionRow.table_name == TableRow.name,
                    TableVersionRow.version == TableRow.active_version,
                ),
            )
            .where(TableRow.layer == layer.value, TableRow.state == TableState.ACTIVE.value)
        )
        with self._db.session(write=False) as s:
            rows = s.execute(stmt).tuples().all()
        return {str(name): (int(version), list(schema)) for name, version, schema in rows}

    def audit_after(
        self, after_id: int, actions: Sequence[str], limit: int = 500
    ) -> list[AuditEntry]:
        """Entries of ``actions`` with an id above ``after_id``, oldest first."""
        stmt = (
            sa.select(AuditLogRow)
            .where(AuditLogRow.id > after_id, AuditLogRow.action.in_(list(actions)))
            .order_by(AuditLogRow.id)
            .limit(limit)
        )
        with self._db.session(write=False) as s:
            return [audit_entry(r) for r in s.scalars(stmt).all()]

    def last_audit_id(self) -> int:
        with self._db.session(write=False) as s:
            return int(s.scalar(sa.select(sa.func.max(AuditLogRow.id))) or 0)

    def gate_failures(self) -> dict[str, int]:
        """Versions whose gate failed, per table."""
        stmt = (
            sa.select(TableVersionRow.table_name, sa.func.count())
            .where(TableVersionRow.gate_status == "failed")
            .group_by(TableVersionRow.table_name)
        )
        with self._db.session(write=False) as s:
            return {str(t): int(n) for t, n in s.execute(stmt).all()}

    def promotions(self) -> dict[tuple[str, str], int]:
        """State changes per (from state, to state)."""
        stmt = sa.select(
            StateHistoryRow.from_state, StateHistoryRow.to_state, sa.func.count()
        ).group_by(StateHistoryRow.from_state, StateHistoryRow.to_state)
        with self._db.session(write=False) as s:
            return {(str(a), str(b)): int(n) for a, b, n in s.execute(stmt).all()}

    def landed_rows(self) -> dict[tuple[str, str], int]:
        """Rows landed in bronze per (table, gate status of the version they landed in)."""
        stmt = (
            sa.select(
                TableVersionRow.table_name,
                TableVersionRow.gate_status,
                sa.func.sum(TableVersionRow.row_count),
            )
            .join(TableRow, TableRow.name == TableVersionRow.table_name)
            .where(TableRow.layer == Layer.BRONZE.value)
            .group_by(TableVersionRow.table_name, TableVersionRow.gate_status)
        )
        with self._db.session(write=False) as s:
            return {(str(t), str(g)): int(n or 0) for t, g, n in s.execute(stmt).all()}
