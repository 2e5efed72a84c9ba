"""Source drift reports: what a drift check found, kept once per distinct finding.

A finding stays open until the source agrees with its expected schema again or drifts
differently (then the old one is resolved and the new one opened), so the metrics can count
drift detected and resolved from the catalog alone. Recording and resolving are audited, each in
the transaction that does it (a finding replaced by a new one is named in the new one's entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.alert_models import SourceDriftRow
from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.engine import Database
from orchestration.jsonable import json_safe

DRIFT_ACTION = "source_drift_recorded"
RESOLVE_ACTION = "source_drift_resolved"


@dataclass(frozen=True)
class OpenReport:
    id: int
    source: str
    severity: str
    report: dict[str, Any]
    resolved: bool = False


class SourceDriftReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        source: str,
        expected_from: str,
        severity: str,
        fingerprint: str,
        report: Mapping[str, Any],
        actor: str,
    ) -> int | None:
        """Keep a drift finding (audited): its id, or None when the same finding is already open."""
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(SourceDriftRow)
                .where(SourceDriftRow.source == source, SourceDriftRow.resolved_at.is_(None))
                .with_for_update()
            )
            if row is not None and row.fingerprint == fingerprint:
                return None
            at = now()
            replaced = None
            if row is not None:
                row.resolved_at = at
                replaced = int(row.id)
                s.flush()
            added = SourceDriftRow(
                source=source,
                expected_from=expected_from,
                severity=severity,
                fingerprint=fingerprint,
                report=json_safe(dict(report)),
                detected_at=at,
                detected_by=actor,
            )
            s.add(added)
            s.flush()
            append(
                self._db,
                s,
                actor,
                DRIFT_ACTION,
                f"source:{source}",
                AuditOutcome.RECORDED,
                {
                    "severity": severity,
                    "expected_from": expected_from,
                    "report": added.id,
                    "replaces": replaced,
                },
            )
            return int(added.id)

    def resolve(
        self, source: str, actor: str, reason: str, launched_by: str | None = None
    ) -> int | None:
        """Resolve the source's open finding (audited): its id, or None when none was open."""
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(SourceDriftRow)
                .where(SourceDriftRow.source == source, SourceDriftRow.resolved_at.is_(None))
                .with_for_update()
            )
            if row is None:
                return None
            row.resolved_at = now()
            s.flush()
            append(
                self._db,
                s,
                actor,
                RESOLVE_ACTION,
                f"source:{source}",
                AuditOutcome.RECORDED,
                {"report": row.id, "reason": reason},
                launched_by,
            )
            return int(row.id)

    def get(self, report_id: int) -> OpenReport | None:
        """One drift report, open or resolved."""
        with self._db.session(write=False) as s:
            r = s.get(SourceDriftRow, report_id)
            if r is None:
                return None
            return OpenReport(r.id, r.source, r.severity, dict(r.report), r.resolved_at is not None)

    def open_reports(self) -> list[OpenReport]:
        """Every unresolved drift report, with its id."""
        with self._db.session(write=False) as s:
            rows = s.scalars(
                sa.select(SourceDriftRow)
                .where(SourceDriftRow.resolved_at.is_(None))
                .order_by(SourceDriftRow.id)
            ).all()
            return [OpenReport(r.id, r.source, r.severity, dict(r.report)) for r in rows]

    def open(self) -> dict[str, dict[str, Any]]:
        """Each source's unresolved drift report."""
        with self._db.session(write=False) as s:
            rows = s.scalars(
                sa.select(SourceDriftRow).where(SourceDriftRow.resolved_at.is_(None))
            ).all()
            return {r.source: dict(r.report) for r in rows}

    def counts(self) -> tuple[dict[tuple[str, str], int], int]:
        """(drift reports per (source, severity), how many were resolved)."""
        with self._db.session(write=False) as s:
            rows = s.execute(
                sa.select(SourceDriftRow.source, SourceDriftRow.severity, sa.func.count()).group_by(
                    SourceDriftRow.source, SourceDriftRow.severity
                )
            ).all()
            resolved = s.scalar(
                sa.select(sa.func.count()).where(SourceDriftRow.resolved_at.is_not(None))
            )
        return {(str(a), str(b)): int(n) for a, b, n in rows}, int(resolved or 0)
