"""PII findings per table column, and the decision a person made about each (kept for good).

A table version is scanned once (``pii_scans``); a column's finding is recorded the first time
it is seen and its status changes only when a person confirms or rejects it, so a later scan
never asks again. Only counts are stored: sample values never reach the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, UTCDateTime
from orchestration.catalog.engine import Database
from orchestration.catalog.models import Base
from policies.errors import NotFound
from policies.pii import Finding, PiiType, Status, Tier


class PiiColumnRow(Base):
    __tablename__ = "pii_columns"
    __table_args__ = (
        sa.UniqueConstraint("table_name", "column_name"),
        sa.CheckConstraint("tier IN ('high', 'low')", name="tier"),
        sa.CheckConstraint("status IN ('detected', 'confirmed', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    column_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    tier: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    matched: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    sampled: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PiiScanRow(Base):
    __tablename__ = "pii_scans"

    table_name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


@dataclass(frozen=True)
class PiiColumn:
    table: str
    column: str
    kind: PiiType
    tier: Tier
    status: Status
    matched: int
    sampled: int
    decided_by: str | None

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def _info(row: PiiColumnRow) -> PiiColumn:
    return PiiColumn(
        row.table_name,
        row.column_name,
        PiiType(row.kind),
        Tier(row.tier),
        Status(row.status),
        row.matched,
        row.sampled,
        row.decided_by,
    )


class PiiRegistry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def scanned(self, table: str, version: int) -> bool:
        with self._db.session(write=False) as s:
            return s.get(PiiScanRow, (table, version)) is not None

    def record_scan(self, table: str, version: int, findings: Sequence[Finding]) -> None:
        """Record a version's findings; columns already known keep their decision."""
        with self._db.session(write=True) as s:
            if s.get(PiiScanRow, (table, version)) is not None:
                return
            s.add(PiiScanRow(table_name=table, version=version, scanned_at=now()))
            known = {
                r.column_name: r
                for r in s.scalars(sa.select(PiiColumnRow).where(PiiColumnRow.table_name == table))
            }
            for f in findings:
                row = known.get(f.column)
                if row is None:
                    s.add(
                        PiiColumnRow(
                            table_name=table,
                            version=version,
                            column_name=f.column,
                            kind=f.kind.value,
                            tier=f.tier.value,
                            matched=f.matched,
                            sampled=f.sampled,
                            status=Status.DETECTED.value,
                            detected_at=now(),
                        )
                    )
                elif row.status == Status.DETECTED.value and Tier(f.tier) == Tier.HIGH:
                    row.tier, row.kind = f.tier.value, f.kind.value  # values now show it
                    row.matched, row.sampled, row.version = f.matched, f.sampled, version

    def columns(self, table: str | None = None) -> list[PiiColumn]:
        stmt = sa.select(PiiColumnRow).order_by(PiiColumnRow.table_name, PiiColumnRow.column_name)
        if table is not None:
            stmt = stmt.where(PiiColumnRow.table_name == table)
        with self._db.session(write=False) as s:
            return [_info(r) for r in s.scalars(stmt)]

    def decide(self, table: str, column: str, status: Status, actor: str) -> PiiColumn:
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(PiiColumnRow)
                .where(PiiColumnRow.table_name == table, PiiColumnRow.column_name == column)
                .with_for_update()
            )
            if row is None:
                raise NotFound(
                    f"{table}.{column} has no PII finding; `spyne pii list` shows them",
                    details={"table": table, "column": column},
                )
            row.status, row.decided_by, row.decided_at = status.value, actor, now()
            s.flush()
            append(
                self._db,
                s,
                actor,
                f"pii_{'confirm' if status == Status.CONFIRMED else 'reject'}",
                f"{table}.{column}",
                AuditOutcome.ALLOWED,
                {
                    "kind": row.kind,
                    "tier": row.tier,
                    "matched": row.matched,
                    "sampled": row.sampled,
                },
            )
            return _info(row)
