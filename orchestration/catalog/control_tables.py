"""The control plane's own tables, as SQLAlchemy Core: principals, modes, tables and versions,
their history, the audit log, intents, run grants, dead letters.

Core, not the ORM: every command opens the catalog, authenticates and reads a few rows, and
the ORM's import and mapper set-up would cost more than the work. The tables describe the
schema for queries and for autogenerating future migrations; the schema itself is created
only by the Alembic migrations, which also install the database triggers that make
``audit_log``, ``state_history`` and ``system_modes`` append-only and table versions
immutable. Never ``create_all`` a real catalog: it would skip those triggers. The
capabilities' state (contracts, joins, alerts, queries, PII) is mapped with the ORM in its
own modules, on the same :data:`metadata`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from policies.failures import FailureClass
from policies.lifecycle import TableState, Transition
from policies.modes import SystemMode
from policies.publish import GateStatus
from policies.roles import Role

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tables whose rows may only ever be inserted; the migrations enforce it in the database.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "audit_log",
    "state_history",
    "system_modes",
    "contract_versions",
)
# Tables the application may also update (never delete): guarded rows change only as allowed.
UPDATABLE_TABLES: tuple[str, ...] = (
    "principals",
    "tables",
    "table_versions",
    "intents",
    "dead_letters",
    "query_previews",
    "query_usage",
    "pii_columns",
    "pii_scans",
    "notifications",
    "notification_deliveries",
    "source_drift_reports",
    "dry_runs",
    "join_profiles",
    "join_candidates",
    "accepted_joins",
)

# Alembic's bookkeeping table for the catalog. Not the default "alembic_version": Dagster's
# PostgreSQL storage keeps its own migrations in that table, and both may share one database.
VERSION_TABLE = "spyne_catalog_version"


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"  # an authorized action was carried out
    REFUSED = "refused"  # a request was refused (role, mode, gate, lifecycle...)
    RECORDED = "recorded"  # a fact was noted (a gate verdict, a drift report)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend.

    SQLite has no timezone-aware type, so values are stored as naive UTC there and
    given their UTC zone back on read; a naive value on the way in is refused
    rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _JSON(sa.types.TypeDecorator[Any]):
    """JSON everywhere, JSONB on PostgreSQL so values can be compared (the immutability trigger
    needs it). The PostgreSQL dialect is imported only when a PostgreSQL engine asks, so the
    commands that open a SQLite catalog do not pay for it."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JSONType = _JSON()


def check_in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


ROLE_VALUES = [r.label for r in Role]
STATE_VALUES = [s.value for s in TableState]
TRANSITION_VALUES = [t.value for t in Transition]
MODE_VALUES = [m.value for m in SystemMode]
GATE_VALUES = [g.value for g in GateStatus]
OUTCOME_VALUES = [o.value for o in AuditOutcome]
INTENT_STATUS_VALUES = ["pending", "done", "undone"]
FAILURE_CLASS_VALUES = [c.value for c in FailureClass]


metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


principals = sa.Table(
    "principals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("api_key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("key_prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.CheckConstraint(check_in("role", ROLE_VALUES), name="role"),
)


system_modes = sa.Table(
    "system_modes",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.CheckConstraint(check_in("mode", MODE_VALUES), name="mode"),
)


tables = sa.Table(
    "tables",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("layer", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("active_version", sa.Integer, nullable=True),
    sa.Column("row_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_promoted_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(check_in("state", STATE_VALUES), name="state"),
    # The active version must be one that was registered for this table.
    sa.ForeignKeyConstraint(
        ["name", "active_version"],
        ["table_versions.table_name", "table_versions.version"],
        name="fk_tables_active_version",
        use_alter=True,
    ),
)


table_versions = sa.Table(
    "table_versions",
    metadata,
    sa.Column("table_name", sa.String(200), sa.ForeignKey("tables.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("physical_name", sa.String(400), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("schema_json", JSONType, nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("gate_status", sa.String(16), nullable=False, default=GateStatus.NOT_RUN.value),
    sa.Column("gate_details", JSONType, nullable=True),
    sa.Column("drift_json", JSONType, nullable=True),
    sa.Column("build_run_id", sa.String(200), nullable=True),
    sa.Column("last_active_at", UTCDateTime, nullable=True),
    sa.Column("dropped_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("version >= 1", name="version_positive"),
    sa.CheckConstraint(check_in("gate_status", GATE_VALUES), name="gate_status"),
)


state_history = sa.Table(
    "state_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(200), sa.ForeignKey("tables.name"), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("transition", sa.String(16), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.CheckConstraint(check_in("from_state", STATE_VALUES), name="from_state"),
    sa.CheckConstraint(check_in("to_state", STATE_VALUES), name="to_state"),
    sa.CheckConstraint(check_in("transition", TRANSITION_VALUES), name="transition"),
    sa.Index("ix_state_history_table_name_id", "table_name", "id"),
)


audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(400), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("details", JSONType, nullable=False),
    # Hash chain: seq has no gaps, each row_hash covers the row and the previous row_hash.
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("row_hash", sa.String(64), nullable=True),
    # Who started the run or command the actor acted in (a person behind a service principal).
    sa.Column("launched_by", sa.String(200), nullable=True),
    sa.CheckConstraint(check_in("outcome", OUTCOME_VALUES), name="outcome"),
    sa.Index("ix_audit_log_target_id", "target", "id"),
    sa.Index("uq_audit_log_seq", "seq", unique=True),
)


# An act on the warehouse, recorded before the warehouse changes and closed with the catalog change.
intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(200), sa.ForeignKey("tables.name"), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("launched_by", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.CheckConstraint(check_in("status", INTENT_STATUS_VALUES), name="status"),
    sa.Index("ix_intents_status", "status"),
)


# A person's identity handed to one Dagster run they launched, by a secret only the run holds.
run_grants = sa.Table(
    "run_grants",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("principal_id", sa.Integer, sa.ForeignKey("principals.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)


# A run whose retries are used up: what it ran, how each step failed; requeued at most once.
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("job_name", sa.String(200), nullable=False),
    # What the run was asked to do: {"assets": [...], "checks": [...], "ops": [...]} (or nulls).
    sa.Column("selection", JSONType, nullable=False),
    sa.Column("org", sa.String(200), nullable=True),
    sa.Column("launched_by", sa.String(200), nullable=True),
    sa.Column("failure_class", sa.String(32), nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("steps", JSONType, nullable=False),
    sa.Column("failed_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("requeued_at", UTCDateTime, nullable=True),
    sa.Column("requeued_by", sa.String(200), nullable=True),
    sa.Column("requeued_run_id", sa.String(64), nullable=True),
    sa.CheckConstraint(check_in("failure_class", FAILURE_CLASS_VALUES), name="failure_class"),
)
