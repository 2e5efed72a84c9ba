"""Catalog rows for join discovery and review: profiles, candidates, accepted joins.

Profiles are kept per table version (a version never changes, so neither does its profile);
candidates are tied to the versions they were computed on; an accepted join is one version of
a dbt model under ``models/joins``, deprecated (never deleted) when a new version replaces it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.catalog.control_tables import JSONType, UTCDateTime
from orchestration.catalog.models import Base

CANDIDATE_STATUSES = ("open", "proposed", "rejected", "accepted")
JOIN_STATES = ("pending", "ACTIVE", "DEPRECATED")  # pending: files being written
JOIN_TYPES = ("left", "inner")


def _check(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class JoinProfileRow(Base):
    __tablename__ = "join_profiles"
    __table_args__ = (sa.UniqueConstraint("table_name", "version", "warehouse_kind"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    warehouse_kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    profiled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class JoinCandidateRow(Base):
    __tablename__ = "join_candidates"
    __table_args__ = (sa.CheckConstraint(_check("status", CANDIDATE_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    child_table: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    child_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    child_columns: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    parent_table: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    parent_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    parent_columns: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    confidence: Mapped[float] = mapped_column(sa.Float, nullable=False)
    risk_level: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    flags: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    discovered_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class AcceptedJoinRow(Base):
    __tablename__ = "accepted_joins"
    __table_args__ = (
        sa.UniqueConstraint("model_name", "version"),
        sa.CheckConstraint(_check("state", JOIN_STATES), name="state"),
        sa.CheckConstraint(_check("join_type", JOIN_TYPES), name="join_type"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    candidate_id: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    join_type: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    rationale: Mapped[str] = mapped_column(sa.Text, nullable=False)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    accepted_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    deprecated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deprecated_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    deprecation_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
