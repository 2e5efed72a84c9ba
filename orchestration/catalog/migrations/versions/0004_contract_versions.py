"""Contract versions (each registered version of an ingestion contract, append-only) and the
dry runs of replays and backfills (each used at most once by a real run).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestration.catalog import guards
from orchestration.catalog.control_tables import JSONType

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "contract_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contract_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("patch", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("summary", JSONType, nullable=False),
        sa.Column("columns", JSONType, nullable=False),
        sa.Column("source", sa.String(1000), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("launched_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contract_versions"),
        sa.UniqueConstraint("contract_id", "version", name="uq_contract_versions_contract_id"),
        sa.CheckConstraint("mode IN ('append', 'upsert')", name="ck_contract_versions_mode"),
    )
    op.create_index("ix_contract_versions_contract_id", "contract_versions", ["contract_id"])
    op.create_table(
        "dry_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dry_run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(200), nullable=False),
        sa.Column("arguments", JSONType, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("launched_by", sa.String(200), nullable=True),
        sa.Column("estimate", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_run", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dry_runs"),
        sa.UniqueConstraint("dry_run_id", name="uq_dry_runs_dry_run_id"),
        sa.CheckConstraint("kind IN ('replay', 'backfill')", name="ck_dry_runs_kind"),
    )
    names = (
        ["contract_versions_no_update", "contract_versions_no_delete"]
        if bind.dialect.name == "sqlite"
        else ["contract_versions_append_only", "contract_versions_no_truncate"]
    )
    guards.install(bind, names=names)


def downgrade() -> None:
    raise NotImplementedError(
        "0004 is not reversible: registered contract versions are part of the record"
    )
