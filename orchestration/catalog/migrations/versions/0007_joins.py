"""Join discovery and review: profiles per table version, candidates, accepted joins.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestration.catalog.control_tables import JSONType
from orchestration.catalog.join_models import CANDIDATE_STATUSES, JOIN_STATES, JOIN_TYPES

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "join_profiles",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("warehouse_kind", sa.String(32), nullable=False),
        sa.Column("profile", JSONType, nullable=False),
        sa.Column("profiled_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_join_profiles"),
        sa.UniqueConstraint(
            "table_name",
            "version",
            "warehouse_kind",
            name="uq_join_profiles_table_name_version_warehouse_kind",
        ),
    )
    op.create_table(
        "join_candidates",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("child_table", sa.String(200), nullable=False),
        sa.Column("child_version", sa.Integer, nullable=False),
        sa.Column("child_columns", JSONType, nullable=False),
        sa.Column("parent_table", sa.String(200), nullable=False),
        sa.Column("parent_version", sa.Integer, nullable=False),
        sa.Column("parent_columns", JSONType, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("stats", JSONType, nullable=False),
        sa.Column("flags", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discovered_at", _ts(), nullable=False),
        sa.Column("discovered_by", sa.String(200), nullable=False),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision_note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_join_candidates"),
        sa.CheckConstraint(_in("status", CANDIDATE_STATUSES), name="ck_join_candidates_status"),
    )
    op.create_table(
        "accepted_joins",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("candidate_id", sa.String(40), nullable=False),
        sa.Column("join_type", sa.String(8), nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("accepted_by", sa.String(200), nullable=False),
        sa.Column("accepted_at", _ts(), nullable=False),
        sa.Column("stats", JSONType, nullable=False),
        sa.Column("deprecated_at", _ts(), nullable=True),
        sa.Column("deprecated_by", sa.String(200), nullable=True),
        sa.Column("deprecation_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accepted_joins"),
        sa.UniqueConstraint("model_name", "version", name="uq_accepted_joins_model_name_version"),
        sa.CheckConstraint(_in("state", JOIN_STATES), name="ck_accepted_joins_state"),
        sa.CheckConstraint(_in("join_type", JOIN_TYPES), name="ck_accepted_joins_join_type"),
    )


def downgrade() -> None:
    raise NotImplementedError("0007 is not reversible: join reviews are part of the record")
