"""Query previews and usage: what a preview id binds, its approval, its one execution, and the
bytes each executed query scanned (the organisation's hourly budget is summed from them).

A preview is written once; only its approval and its execution are set later, each once, in a
locked transaction, so two executions of one preview cannot both run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, JSONType, UTCDateTime
from orchestration.catalog.engine import Database
from orchestration.catalog.models import Base
from orchestration.jsonable import json_safe
from policies.errors import NotFound, PreviewInvalid


class QueryPreviewRow(Base):
    __tablename__ = "query_previews"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('allow', 'rewrite', 'require_approval')", name="decision"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    principal: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    org: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    dialect: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    sql: Mapped[str] = mapped_column(sa.Text, nullable=False)  # what runs (physical versions)
    shown_sql: Mapped[str] = mapped_column(sa.Text, nullable=False)  # as people read it
    sql_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    # [{"table", "state", "version", "rows", "row_version"}] as resolved at preview time
    tables: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    decision: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    approval_rules: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    estimated_bytes: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    approved_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approval_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class QueryUsageRow(Base):
    __tablename__ = "query_usage"
    __table_args__ = (sa.Index("ix_query_usage_org_at", "org", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    principal: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    preview_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    bytes_scanned: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    rows_returned: Mapped[int] = mapped_column(sa.Integer, nullable=False)


@dataclass(frozen=True)
class NewPreview:
    id: str
    principal: str
    org: str
    dialect: str
    sql: str
    shown_sql: str
    sql_hash: str
    tables: Sequence[Mapping[str, Any]]
    decision: str
    approval_rules: Sequence[str]
    estimated_bytes: int | None
    payload: Mapping[str, Any]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class PreviewInfo:
    id: str
    principal: str
    org: str
    dialect: str
    sql: str
    shown_sql: str
    sql_hash: str
    tables: list[dict[str, Any]]
    decision: str
    approval_rules: list[str]
    estimated_bytes: int | None
    payload: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    approval_reason: str | None
    executed_at: datetime | None


def _info(row: QueryPreviewRow) -> PreviewInfo:
    return PreviewInfo(
        id=row.id,
        principal=row.principal,
        org=row.org,
        dialect=row.dialect,
        sql=row.sql,
        shown_sql=row.shown_sql,
        sql_hash=row.sql_hash,
        tables=list(row.tables),
        decision=row.decision,
        approval_rules=list(row.approval_rules),
        estimated_bytes=row.estimated_bytes,
        payload=dict(row.payload),
        created_at=row.created_at,
        expires_at=row.expires_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        approval_reason=row.approval_reason,
        executed_at=row.executed_at,
    )


def _missing(preview_id: str) -> NotFound:
    return NotFound(
        f"there is no preview {preview_id!r}; run `spyne query preview SQL` first",
        details={"preview_id": preview_id},
    )


class QueryPreviews:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, preview: NewPreview) -> PreviewInfo:
        with self._db.session(write=True) as s:
            row = QueryPreviewRow(
                id=preview.id,
                principal=preview.principal,
                org=preview.org,
                dialect=preview.dialect,
                sql=preview.sql,
                shown_sql=preview.shown_sql,
                sql_hash=preview.sql_hash,
                tables=json_safe([dict(t) for t in preview.tables]),
                decision=preview.decision,
                approval_rules=list(preview.approval_rules),
                estimated_bytes=preview.estimated_bytes,
                payload=json_safe(dict(preview.payload)),
                created_at=preview.created_at,
                expires_at=preview.expires_at,
            )
            s.add(row)
            s.flush()
            return _info(row)

    def get(self, preview_id: str) -> PreviewInfo:
        with self._db.session(write=False) as s:
            row = s.get(QueryPreviewRow, preview_id)
            if row is None:
                raise _missing(preview_id)
            return _info(row)

    def approve(self, preview_id: str, actor: str, reason: str) -> PreviewInfo:
        """Record who approved a preview (audited), once."""
        with self._db.session(write=True) as s:
            row = s.get(QueryPreviewRow, preview_id, with_for_update=True)
            if row is None:
                raise _missing(preview_id)
            if row.approved_by is not None:
                raise PreviewInvalid(
                    f"preview {preview_id} was already approved by {row.approved_by}",
                    details={"preview_id": preview_id, "approved_by": row.approved_by},
                )
            row.approved_by, row.approved_at, row.approval_reason = actor, now(), reason
            s.flush()
            append(
                self._db,
                s,
                actor,
                "query_approval",
                f"preview:{preview_id}",
                AuditOutcome.ALLOWED,
                {"reason": reason, "rules": list(row.approval_rules), "sql_hash": row.sql_hash},
            )
            return _info(row)

    def claim_execution(self, preview_id: str) -> PreviewInfo:
        """Mark a preview executed; refused when it already was (two runs cannot both start)."""
        with self._db.session(write=True) as s:
            row = s.get(QueryPreviewRow, preview_id, with_for_update=True)
            if row is None:
                raise _missing(preview_id)
            if row.executed_at is not None:
                raise PreviewInvalid(
                    f"preview {preview_id} was already executed; preview the query again",
                    details={"preview_id": preview_id, "rule": "preview_used"},
                )
            row.executed_at = now()
            s.flush()
            return _info(row)

    def record_usage(
        self, org: str, principal: str, preview_id: str | None, bytes_scanned: int, rows: int
    ) -> None:
        with self._db.session(write=True) as s:
            s.add(
                QueryUsageRow(
                    org=org,
                    principal=principal,
                    preview_id=preview_id,
                    at=now(),
                    bytes_scanned=bytes_scanned,
                    rows_returned=rows,
                )
            )

    def usage_since(self, org: str, since: datetime) -> list[tuple[datetime, int]]:
        """(when, bytes) of the organisation's executed queries since ``since``."""
        stmt = sa.select(QueryUsageRow.at, QueryUsageRow.bytes_scanned).where(
            QueryUsageRow.org == org, QueryUsageRow.at >= since
        )
        with self._db.session(write=False) as s:
            return [(at, int(b)) for at, b in s.execute(stmt).all()]
