"""Initial catalog: principals, system modes, tables and versions, history, audit log.

Besides the tables, this installs the database-side guarantees that no application
bug (or hand-typed SQL) can bypass: ``audit_log``, ``state_history`` and
``system_modes`` refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE), and a table
version's data columns can never change nor its row be deleted.

The column lists are written out here rather than taken from the models, so this
revision keeps creating the same schema however the models evolve later.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlglot import exp

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY = ("audit_log", "state_history", "system_modes")
# Columns describing what a version *is*; only gate, drift and retention columns may change.
VERSION_DATA_COLUMNS = (
    "table_name",
    "version",
    "physical_name",
    "created_at",
    "row_count",
    "schema_json",
    "content_hash",
    "build_run_id",
)

STATES = ("READ_ONLY", "SHADOW", "ACTIVE", "DEPRECATED")
TRANSITIONS = ("promote", "deprecate", "restore", "rollback")
MODES = ("READ_ONLY", "INGESTION_READY")
ROLES = ("viewer", "analyst", "engineer", "admin")
GATES = ("not_run", "passed", "failed")
OUTCOMES = ("allowed", "refused", "recorded")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "principals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("api_key_hash", sa.String(128), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("name", name="uq_principals_name"),
        sa.UniqueConstraint("api_key_hash", name="uq_principals_api_key_hash"),
        sa.CheckConstraint(_in("role", ROLES), name="ck_principals_role"),
    )

    op.create_table(
        "system_modes",
        sa.Column("version", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("changed_at", _ts(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("version", name="pk_system_modes"),
        sa.CheckConstraint(_in("mode", MODES), name="ck_system_modes_mode"),
        sa.CheckConstraint("version >= 1", name="ck_system_modes_version_positive"),
    )

    # tables <-> table_versions reference each other (the active version must be a
    # registered one). SQLite accepts the forward reference inline and cannot ALTER a
    # constraint in later; PostgreSQL needs the target to exist, so it is added after.
    active_fk: list[sa.ForeignKeyConstraint] = []
    if dialect == "sqlite":
        active_fk.append(
            sa.ForeignKeyConstraint(
                ["name", "active_version"],
                ["table_versions.table_name", "table_versions.version"],
                name="fk_tables_active_version",
            )
        )
    op.create_table(
        "tables",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("layer", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("active_version", sa.Integer, nullable=True),
        sa.Column("auto_publish", sa.Boolean, nullable=True),
        sa.Column("row_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("last_promoted_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_tables"),
        sa.CheckConstraint(_in("state", STATES), name="ck_tables_state"),
        *active_fk,
    )

    op.create_table(
        "table_versions",
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("physical_name", sa.String(400), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("schema_json", _json(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("gate_status", sa.String(16), nullable=False, server_default="not_run"),
        sa.Column("gate_details", _json(), nullable=True),
        sa.Column("drift_json", _json(), nullable=True),
        sa.Column("build_run_id", sa.String(200), nullable=True),
        sa.Column("last_active_at", _ts(), nullable=True),
        sa.Column("dropped_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("table_name", "version", name="pk_table_versions"),
        sa.ForeignKeyConstraint(
            ["table_name"], ["tables.name"], name="fk_table_versions_table_name_tables"
        ),
        sa.UniqueConstraint("physical_name", name="uq_table_versions_physical_name"),
        sa.CheckConstraint("version >= 1", name="ck_table_versions_version_positive"),
        sa.CheckConstraint(_in("gate_status", GATES), name="ck_table_versions_gate_status"),
    )
    if dialect != "sqlite":
        op.create_foreign_key(
            "fk_tables_active_version",
            "tables",
            "table_versions",
            ["name", "active_version"],
            ["table_name", "version"],
        )

    op.create_table(
        "state_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("transition", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_state_history"),
        sa.ForeignKeyConstraint(
            ["table_name"], ["tables.name"], name="fk_state_history_table_name_tables"
        ),
        sa.CheckConstraint(_in("from_state", STATES), name="ck_state_history_from_state"),
        sa.CheckConstraint(_in("to_state", STATES), name="ck_state_history_to_state"),
        sa.CheckConstraint(_in("transition", TRANSITIONS), name="ck_state_history_transition"),
    )
    op.create_index("ix_state_history_table_name_id", "state_history", ["table_name", "id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(400), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.CheckConstraint(_in("outcome", OUTCOMES), name="ck_audit_log_outcome"),
    )
    op.create_index("ix_audit_log_target_id", "audit_log", ["target", "id"])

    if dialect == "sqlite":
        _sqlite_guards()
    elif dialect == "postgresql":
        _postgresql_guards()
    else:
        raise RuntimeError(f"the catalog supports sqlite and postgresql, not {dialect}")


def _q(name: str, dialect: str) -> str:
    """An identifier quoted by sqlglot for the dialect (trigger DDL has no SQLAlchemy construct)."""
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            message = exp.Literal.string(f"{table} is append-only: {event} is refused").sql(
                "sqlite"
            )
            op.execute(
                f"CREATE TRIGGER {_q(f'{table}_no_{event.lower()}', 'sqlite')} BEFORE {event} "
                f"ON {_q(table, 'sqlite')} BEGIN SELECT RAISE(ABORT, {message}); END"
            )
    changed = " OR ".join(
        f"NEW.{_q(c, 'sqlite')} IS NOT OLD.{_q(c, 'sqlite')}" for c in VERSION_DATA_COLUMNS
    )
    op.execute(
        "CREATE TRIGGER table_versions_immutable BEFORE UPDATE ON table_versions "
        f"WHEN {changed} BEGIN SELECT RAISE(ABORT, 'table versions are immutable: "
        "only gate, drift and retention columns may change'); END"
    )
    op.execute(
        "CREATE TRIGGER table_versions_no_delete BEFORE DELETE ON table_versions "
        "BEGIN SELECT RAISE(ABORT, 'table versions are never deleted: mark them dropped'); END"
    )


def _postgresql_guards() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION spyne_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP;
        END
        $$
        """
    )
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in VERSION_DATA_COLUMNS)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION spyne_table_versions_immutable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' THEN
                RAISE EXCEPTION 'table versions are never deleted: mark them dropped (% refused)', TG_OP;
            END IF;
            IF {changed} THEN
                RAISE EXCEPTION 'table versions are immutable: only gate, drift and retention columns may change';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    for table in APPEND_ONLY:
        quoted = _q(table, "postgres")
        op.execute(
            f"CREATE TRIGGER {_q(f'{table}_append_only', 'postgres')} BEFORE UPDATE OR DELETE "
            f"ON {quoted} FOR EACH ROW EXECUTE FUNCTION spyne_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {_q(f'{table}_no_truncate', 'postgres')} BEFORE TRUNCATE "
            f"ON {quoted} FOR EACH STATEMENT EXECUTE FUNCTION spyne_refuse_change()"
        )
        # Owners keep their privileges; the triggers above are what stop them. Production
        # should connect as a role granted only SELECT and INSERT on these tables.
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {quoted} FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER table_versions_immutable BEFORE UPDATE OR DELETE ON table_versions "
        "FOR EACH ROW EXECUTE FUNCTION spyne_table_versions_immutable()"
    )
    op.execute(
        "CREATE TRIGGER table_versions_no_truncate BEFORE TRUNCATE ON table_versions "
        "FOR EACH STATEMENT EXECUTE FUNCTION spyne_table_versions_immutable()"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # tables and table_versions reference each other; check keys at commit instead.
        op.execute("PRAGMA defer_foreign_keys = ON")
    else:
        op.drop_constraint("fk_tables_active_version", "tables", type_="foreignkey")
    op.drop_index("ix_audit_log_target_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_state_history_table_name_id", table_name="state_history")
    op.drop_table("state_history")
    op.drop_table("table_versions")
    op.drop_table("tables")
    op.drop_table("system_modes")
    op.drop_table("principals")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS spyne_table_versions_immutable()")
        op.execute("DROP FUNCTION IF EXISTS spyne_refuse_change()")
