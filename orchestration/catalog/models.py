"""ORM models of the capabilities' catalog state that lives beside the control plane's tables.

Declared on the control plane's :data:`~orchestration.catalog.control_tables.metadata`, so the
migrations see one schema. Modules that need the ORM import it; opening the catalog does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestration.catalog.control_tables import JSONType, UTCDateTime, check_in, metadata


class Base(DeclarativeBase):
    metadata = metadata


class ContractVersionRow(Base):
    """One registered version of an ingestion contract: the ODCS document as it was registered.

    Append-only (guards): a registered version never changes; changed content is a new version.
    """

    __tablename__ = "contract_versions"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "version", name="uq_contract_versions_contract_id"),
        sa.CheckConstraint(check_in("mode", ["append", "upsert"]), name="mode"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(sa.String(200), nullable=False, index=True)
    version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    major: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    minor: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    patch: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    table_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    content_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    source: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    registered_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)


class DryRunRow(Base):
    """A replay or backfill dry run: its arguments, who ran it, its estimate; used at most once."""

    __tablename__ = "dry_runs"
    __table_args__ = (sa.CheckConstraint(check_in("kind", ["replay", "backfill"]), name="kind"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    dry_run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    contract_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    principal: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_run: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
