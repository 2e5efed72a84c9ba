"""Catalog rows for alerts: notifications, their deliveries, and source drift reports.

A notification is one alert condition: opened once (a partial unique index keeps at most one
open row per condition key, so two sensors raising the same condition page once), closed when
the condition clears, acknowledged by a person. Each channel it was routed to has a delivery
row that keeps its attempts until it is delivered or given up. Source drift reports keep what a
drift check found, so metrics count them after a restart and across processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.catalog.control_tables import JSONType, UTCDateTime, check_in
from orchestration.catalog.models import Base
from policies.alerts import AlertKind, AlertSeverity
from policies.drift import DriftSeverity

KIND_VALUES = [k.value for k in AlertKind]
ALERT_SEVERITY_VALUES = [s.label for s in AlertSeverity]
NOTIFICATION_STATUS_VALUES = ["open", "closed"]
DELIVERY_STATUS_VALUES = ["pending", "delivered", "failed", "given_up"]
DRIFT_SEVERITY_VALUES = [s.name for s in DriftSeverity]
OPEN = "open"


class NotificationRow(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.CheckConstraint(check_in("kind", KIND_VALUES), name="kind"),
        sa.CheckConstraint(check_in("severity", ALERT_SEVERITY_VALUES), name="severity"),
        sa.CheckConstraint(check_in("status", NOTIFICATION_STATUS_VALUES), name="status"),
        sa.Index(
            "uq_notifications_open_condition",
            "condition_key",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    condition_key: Mapped[str] = mapped_column(sa.String(400), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    severity: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    title: Mapped[str] = mapped_column(sa.Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    opened_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    repeats: Mapped[int] = mapped_column(sa.Integer, nullable=False)  # raised again while open
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)


class DeliveryRow(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.CheckConstraint(check_in("status", DELIVERY_STATUS_VALUES), name="status"),
        sa.UniqueConstraint("notification_id", "channel"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("notifications.id"), nullable=False
    )
    channel: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    rounds: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SourceDriftRow(Base):
    """One drift found between a source's live schema and the schema it is expected to have."""

    __tablename__ = "source_drift_reports"
    __table_args__ = (
        sa.CheckConstraint(check_in("severity", DRIFT_SEVERITY_VALUES), name="severity"),
        sa.Index(
            "uq_source_drift_reports_open_source",
            "source",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    expected_from: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    severity: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    detected_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
