"""Dead letters: runs whose retries are used up, with their step history; requeued at most once.

The history columns never change and rows are never deleted (guards); only the requeue columns
are set, once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestration.catalog import guards
from orchestration.catalog.control_tables import FAILURE_CLASS_VALUES, JSONType

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    classes = ", ".join(f"'{c}'" for c in FAILURE_CLASS_VALUES)
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("job_name", sa.String(200), nullable=False),
        sa.Column("selection", JSONType, nullable=False),
        sa.Column("org", sa.String(200), nullable=True),
        sa.Column("launched_by", sa.String(200), nullable=True),
        sa.Column("failure_class", sa.String(32), nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("steps", JSONType, nullable=False),
        sa.Column("failed_at", _ts(), nullable=False),
        sa.Column("recorded_at", _ts(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("requeued_at", _ts(), nullable=True),
        sa.Column("requeued_by", sa.String(200), nullable=True),
        sa.Column("requeued_run_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint("run_id", name="uq_dead_letters_run_id"),
        sa.CheckConstraint(f"failure_class IN ({classes})", name="ck_dead_letters_failure_class"),
    )
    names = (
        ["dead_letters_requeue_once", "dead_letters_no_delete"]
        if bind.dialect.name == "sqlite"
        else ["dead_letters_requeue_once", "dead_letters_no_truncate"]
    )
    guards.install(bind, names=names)


def downgrade() -> None:
    raise NotImplementedError(
        "0003 is not reversible: dead letters are part of the record and are never deleted"
    )
