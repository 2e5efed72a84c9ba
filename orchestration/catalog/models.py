"""SQLAlchemy models of the catalog (control plane).

The models describe the schema for queries and for autogenerating future migrations;
the schema itself is created only by the Alembic migrations, which also install the
database triggers that make ``audit_log``, ``state_history`` and ``system_modes``
append-only and table versions immutable. Never ``create_all`` a real catalog: it
would skip those triggers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


def _check_in(column: str, values: list[str]) -> str:
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


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class PrincipalRow(Base):
    __tablename__ = "principals"
    __table_args__ = (sa.CheckConstraint(_check_in("role", ROLE_VALUES), name="role"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    api_key_hash: Mapped[str] = mapped_column(sa.String(128), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    disabled: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )


class SystemModeRow(Base):
    __tablename__ = "system_modes"
    __table_args__ = (sa.CheckConstraint(_check_in("mode", MODE_VALUES), name="mode"),)

    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    changed_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class TableRow(Base):
    __tablename__ = "tables"
    __table_args__ = (
        sa.CheckConstraint(_check_in("state", STATE_VALUES), name="state"),
        # The active version must be one that was registered for this table.
        sa.ForeignKeyConstraint(
            ["name", "active_version"],
            ["table_versions.table_name", "table_versions.version"],
            name="fk_tables_active_version",
            use_alter=True,
        ),
    )

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    layer: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    active_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    row_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TableVersionRow(Base):
    __tablename__ = "table_versions"
    __table_args__ = (
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint(_check_in("gate_status", GATE_VALUES), name="gate_status"),
    )

    table_name: Mapped[str] = mapped_column(
        sa.String(200), sa.ForeignKey("tables.name"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    physical_name: Mapped[str] = mapped_column(sa.String(400), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    row_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    schema_json: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    content_hash: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    gate_status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=GateStatus.NOT_RUN.value
    )
    gate_details: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    drift_json: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    build_run_id: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StateHistoryRow(Base):
    __tablename__ = "state_history"
    __table_args__ = (
        sa.CheckConstraint(_check_in("from_state", STATE_VALUES), name="from_state"),
        sa.CheckConstraint(_check_in("to_state", STATE_VALUES), name="to_state"),
        sa.CheckConstraint(_check_in("transition", TRANSITION_VALUES), name="transition"),
        sa.Index("ix_state_history_table_name_id", "table_name", "id"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(
        sa.String(200), sa.ForeignKey("tables.name"), nullable=False
    )
    from_state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    to_state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    transition: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    from_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class AuditLogRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.CheckConstraint(_check_in("outcome", OUTCOME_VALUES), name="outcome"),
        sa.Index("ix_audit_log_target_id", "target", "id"),
        sa.Index("uq_audit_log_seq", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    target: Mapped[str | None] = mapped_column(sa.String(400), nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # Hash chain: seq has no gaps, each row_hash covers the row and the previous row_hash.
    seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # Who started the run or command the actor acted in (a person behind a service principal).
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)


class IntentRow(Base):
    """An act on the warehouse, recorded before the warehouse changes and closed with the catalog change."""

    __tablename__ = "intents"
    __table_args__ = (
        sa.CheckConstraint(_check_in("status", INTENT_STATUS_VALUES), name="status"),
        sa.Index("ix_intents_status", "status"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(
        sa.String(200), sa.ForeignKey("tables.name"), nullable=False
    )
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    from_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class RunGrantRow(Base):
    """A person's identity handed to one Dagster run they launched, by a secret only the run holds."""

    __tablename__ = "run_grants"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    principal_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("principals.id"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeadLetterRow(Base):
    """A run whose retries are used up: what it ran, how each step failed; requeued at most once."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        sa.CheckConstraint(_check_in("failure_class", FAILURE_CLASS_VALUES), name="failure_class"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    job_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # What the run was asked to do: {"assets": [...], "checks": [...], "ops": [...]} (or nulls).
    selection: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    org: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    failure_class: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    why: Mapped[str] = mapped_column(sa.Text, nullable=False)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    requeued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requeued_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    requeued_run_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class ContractVersionRow(Base):
    """One registered version of an ingestion contract: the ODCS document as it was registered.

    Append-only (guards): a registered version never changes; changed content is a new version.
    """

    __tablename__ = "contract_versions"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "version", name="uq_contract_versions_contract_id"),
        sa.CheckConstraint(_check_in("mode", ["append", "upsert"]), name="mode"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(sa.String(200), nullable=False, index=True)
    version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    major: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    minor: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    patch: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    table_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    content_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    source: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    registered_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)


class DryRunRow(Base):
    """A replay or backfill dry run: its arguments, who ran it, its estimate; used at most once."""

    __tablename__ = "dry_runs"
    __table_args__ = (sa.CheckConstraint(_check_in("kind", ["replay", "backfill"]), name="kind"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    dry_run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    contract_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    principal: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    launched_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_run: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
