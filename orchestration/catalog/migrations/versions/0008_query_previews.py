"""Query previews (what a preview id binds), query usage (bytes scanned, for the hourly budget)
and PII findings (per table column, with the decision a person made about each).

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestration.catalog.control_tables import JSONType

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "query_previews",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("dialect", sa.String(20), nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("shown_sql", sa.Text, nullable=False),
        sa.Column("sql_hash", sa.String(64), nullable=False),
        sa.Column("tables", JSONType, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("approval_rules", JSONType, nullable=False),
        sa.Column("estimated_bytes", sa.BigInteger, nullable=True),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", _ts(), nullable=True),
        sa.Column("approval_reason", sa.Text, nullable=True),
        sa.Column("executed_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_query_previews"),
        sa.CheckConstraint(
            "decision IN ('allow', 'rewrite', 'require_approval')",
            name="ck_query_previews_decision",
        ),
    )
    op.create_table(
        "query_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("preview_id", sa.String(40), nullable=True),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("bytes_scanned", sa.BigInteger, nullable=False),
        sa.Column("rows_returned", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_query_usage"),
    )
    op.create_index("ix_query_usage_org_at", "query_usage", ["org", "at"])
    op.create_table(
        "pii_columns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("column_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("sampled", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detected_at", _ts(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pii_columns"),
        sa.UniqueConstraint(
            "table_name", "column_name", name="uq_pii_columns_table_name_column_name"
        ),
        sa.CheckConstraint("tier IN ('high', 'low')", name="ck_pii_columns_tier"),
        sa.CheckConstraint(
            "status IN ('detected', 'confirmed', 'rejected')", name="ck_pii_columns_status"
        ),
    )
    op.create_table(
        "pii_scans",
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("scanned_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "version", name="pk_pii_scans"),
    )


def downgrade() -> None:
    op.drop_table("pii_scans")
    op.drop_table("pii_columns")
    op.drop_index("ix_query_usage_org_at", table_name="query_usage")
    op.drop_table("query_usage")
    op.drop_table("query_previews")
