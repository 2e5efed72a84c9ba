"""Tamper-evident audit chain, intents for crash-consistent acts, run grants; one home for auto-publish.

- ``audit_log`` gains ``seq``, ``prev_hash``, ``row_hash`` (a hash chain) and ``launched_by``;
  existing rows are chained in id order (the append-only triggers are lifted for that, inside
  this migration's transaction, and put back).
- ``intents`` records an act on the warehouse before it happens; ``run_grants`` binds a
  person to a Dagster run they launched.
- ``tables.auto_publish`` goes: whether a table publishes automatically is the publishing
  policy's answer alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from orchestration.catalog import guards
from orchestration.catalog.audit import GENESIS, chain_hash

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_AUDIT_TRIGGERS = {
    "sqlite": ["audit_log_no_update", "audit_log_no_delete"],
    "postgresql": ["audit_log_append_only", "audit_log_no_truncate"],
}


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name

    op.add_column("audit_log", sa.Column("seq", sa.BigInteger, nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("launched_by", sa.String(200), nullable=True))
    op.create_index("uq_audit_log_seq", "audit_log", ["seq"], unique=True)
    _chain_existing_rows(bind)

    op.create_table(
        "intents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("launched_by", sa.String(200), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_intents"),
        sa.ForeignKeyConstraint(
            ["table_name"], ["tables.name"], name="fk_intents_table_name_tables"
        ),
        sa.CheckConstraint("status IN ('pending', 'done', 'undone')", name="ck_intents_status"),
    )
    op.create_index("ix_intents_status", "intents", ["status"])

    op.create_table(
        "run_grants",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.Integer, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_run_grants"),
        sa.UniqueConstraint("run_id", name="uq_run_grants_run_id"),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_run_grants_principal_id_principals"
        ),
    )

    if dialect == "sqlite":
        op.execute("ALTER TABLE tables DROP COLUMN auto_publish")
    else:
        op.drop_column("tables", "auto_publish")

    guards.install(
        bind,
        names=["intents_close_once", "intents_no_delete"]
        if dialect == "sqlite"
        else ["intents_close_once", "intents_no_truncate"],
    )


def _chain_existing_rows(bind: sa.Connection) -> None:
    dialect = bind.dialect.name
    audit = sa.table(
        "audit_log",
        sa.column("id"),
        sa.column("at"),
        sa.column("actor"),
        sa.column("action"),
        sa.column("target"),
        sa.column("outcome"),
        sa.column("details", sa.JSON),
        sa.column("seq"),
        sa.column("prev_hash"),
        sa.column("row_hash"),
    )
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    if not rows:
        return
    guards.drop(bind, _AUDIT_TRIGGERS[dialect])
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        at = row["at"]
        if isinstance(at, str):  # SQLite hands back text here (no type decorator)
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        digest = chain_hash(
            prev,
            seq=seq,
            at=at,
            actor=row["actor"],
            launched_by=None,
            action=row["action"],
            target=row["target"],
            outcome=row["outcome"],
            details=dict(row["details"] or {}),
        )
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == row["id"])
            .values(seq=seq, prev_hash=prev, row_hash=digest)
        )
        prev = digest
    guards.install(bind, names=_AUDIT_TRIGGERS[dialect])


def downgrade() -> None:
    raise NotImplementedError(
        "0002 is not reversible: the audit chain cannot be unwritten from an append-only log"
    )
