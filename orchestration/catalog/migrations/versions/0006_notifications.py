"""Alerts: notifications (one open row per condition), their deliveries, source drift reports.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestration.catalog.control_tables import JSONType

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

KINDS = ("drift", "freshness", "gate_failure", "run_failure", "ingestion_refused")
SEVERITIES = ("info", "warning", "critical")
DRIFT_SEVERITIES = ("NONE", "ADDITIVE", "WARNING", "BREAKING")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("condition_key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", _ts(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("repeats", sa.Integer, nullable=False),
        sa.Column("last_seen_at", _ts(), nullable=False),
        sa.Column("closed_at", _ts(), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("acked_at", _ts(), nullable=True),
        sa.Column("acked_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.CheckConstraint(_in("kind", KINDS), name="ck_notifications_kind"),
        sa.CheckConstraint(_in("severity", SEVERITIES), name="ck_notifications_severity"),
        sa.CheckConstraint(_in("status", ("open", "closed")), name="ck_notifications_status"),
    )
    op.create_index(
        "uq_notifications_open_condition",
        "notifications",
        ["condition_key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", _ts(), nullable=True),
        sa.Column("delivered_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_deliveries"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name="fk_notification_deliveries_notification_id_notifications",
        ),
        sa.UniqueConstraint(
            "notification_id", "channel", name="uq_notification_deliveries_notification_id_channel"
        ),
        sa.CheckConstraint(
            _in("status", ("pending", "delivered", "failed", "given_up")),
            name="ck_notification_deliveries_status",
        ),
    )
    op.create_table(
        "source_drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("expected_from", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.Column("detected_at", _ts(), nullable=False),
        sa.Column("detected_by", sa.String(200), nullable=False),
        sa.Column("resolved_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_source_drift_reports"),
        sa.CheckConstraint(
            _in("severity", DRIFT_SEVERITIES), name="ck_source_drift_reports_severity"
        ),
    )
    op.create_index(
        "uq_source_drift_reports_open_source",
        "source_drift_reports",
        ["source"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("source_drift_reports")
    op.drop_table("notification_deliveries")
    op.drop_table("notifications")
