"""The catalog store: the only code that reads or writes the control-plane database.

Every method opens and finishes its own transaction and returns frozen snapshots, never
live ORM objects, so callers cannot keep a stale row around and write it back later.
State changes go through :meth:`Catalog.transition`, which locks the table's row for the
whole block: two promotions of one table (threads, processes or machines) run one after
the other, and the second sees what the first did.

SQLite (local) and PostgreSQL (ci, prod) run the same migrations and the same code;
where they differ (row locks, lock waits) the difference is handled here.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from orchestration.catalog.models import (
    VERSION_TABLE,
    AuditLogRow,
    AuditOutcome,
    GateStatus,
    PrincipalRow,
    StateHistoryRow,
    SystemModeRow,
    TableRow,
    TableVersionRow,
)
from orchestration.jsonable import json_safe
from policies.errors import (
    AuthenticationRequired,
    ConcurrentChange,
    ConfigError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from policies.lifecycle import TableState, Transition, next_state
from policies.modes import DEFAULT_MODE, SystemMode
from policies.naming import Layer, TableRef, parse_table_ref
from policies.roles import Role

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
API_KEY_PREFIX = "spy_"
KEY_PREFIX_LENGTH = 8
DEFAULT_LOCK_TIMEOUT_S = 30.0
MODE_TARGET = "system_mode"

# Custom execution option read by the SQLite "begin" hook: writers take the database's
# write lock up front (BEGIN IMMEDIATE) so they queue instead of failing half-way.
_SQLITE_BEGIN = "spyne_sqlite_begin"
# pg_advisory_xact_lock keys; advisory locks need no table privilege, unlike LOCK TABLE.
_PG_LOCK_MIGRATIONS = 0x5350_0001
_PG_LOCK_MODE = 0x5350_0002
_LIST_TABLES_HINT = "`spyne tables list` shows the tables the catalog knows"


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class PrincipalInfo:
    id: int
    name: str
    role: Role
    key_prefix: str
    created_at: datetime
    created_by: str
    disabled: bool


@dataclass(frozen=True)
class ModeInfo:
    mode: SystemMode
    version: int  # 0 when no mode was ever set (then the mode is READ_ONLY)
    changed_at: datetime | None
    changed_by: str | None
    reason: str | None = None


@dataclass(frozen=True)
class TableInfo:
    name: str
    layer: Layer
    state: TableState
    active_version: int | None
    auto_publish: bool | None
    row_version: int
    created_at: datetime
    updated_at: datetime
    last_promoted_at: datetime | None
    version_count: int  # retained versions (not dropped)

    @property
    def ref(self) -> TableRef:
        return parse_table_ref(self.name)


@dataclass(frozen=True)
class VersionInfo:
    table_name: str
    version: int
    physical_name: str
    created_at: datetime
    row_count: int
    schema: list[dict[str, Any]]
    content_hash: str
    gate_status: GateStatus
    gate_details: dict[str, Any] | None
    drift: dict[str, Any] | None
    build_run_id: str | None
    last_active_at: datetime | None
    dropped_at: datetime | None

    @property
    def dropped(self) -> bool:
        return self.dropped_at is not None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    outcome: AuditOutcome
    details: dict[str, Any]


@dataclass(frozen=True)
class StateChange:
    id: int
    table_name: str
    from_state: TableState
    to_state: TableState
    transition: Transition
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str | None


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def hash_api_key(api_key: str) -> str:
    """SHA-256 of the key, hex.

    Keys are 32 random bytes, so a fast unsalted hash is as safe as a slow KDF here
    (there is nothing to brute-force), and it lets the hash be a unique, indexed
    column: authentication is one lookup, not a scan verifying every salted hash.
    """
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _name(table: str | TableRef) -> str:
    return table.canonical if isinstance(table, TableRef) else table


_E = TypeVar("_E", bound=StrEnum)


def _parse_enum(kind: type[_E], value: _E | str, what: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationFailed(
            f"{what} {value!r} is not one of: {allowed}", details={field: value}
        ) from None


def _outcome(value: AuditOutcome | str) -> AuditOutcome:
    return _parse_enum(AuditOutcome, value, "audit outcome", "outcome")


def _gate_status(value: GateStatus | str) -> GateStatus:
    return _parse_enum(GateStatus, value, "gate status", "status")


def _principal_info(row: PrincipalRow) -> PrincipalInfo:
    return PrincipalInfo(
        id=row.id,
        name=row.name,
        role=Role.parse(row.role),
        key_prefix=row.key_prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        disabled=bool(row.disabled),
    )


def _mode_info(row: SystemModeRow | None) -> ModeInfo:
    if row is None:
        return ModeInfo(SystemMode(DEFAULT_MODE), 0, None, None, None)
    return ModeInfo(SystemMode(row.mode), row.version, row.changed_at, row.changed_by, row.reason)


def _table_info(row: TableRow, version_count: int) -> TableInfo:
    return TableInfo(
        name=row.name,
        layer=Layer(row.layer),
        state=TableState(row.state),
        active_version=row.active_version,
        auto_publish=row.auto_publish,
        row_version=row.row_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_promoted_at=row.last_promoted_at,
        version_count=version_count,
    )


def _version_info(row: TableVersionRow) -> VersionInfo:
    return VersionInfo(
        table_name=row.table_name,
        version=row.version,
        physical_name=row.physical_name,
        created_at=row.created_at,
        row_count=row.row_count,
        schema=list(row.schema_json),
        content_hash=row.content_hash,
        gate_status=GateStatus(row.gate_status),
        gate_details=row.gate_details,
        drift=row.drift_json,
        build_run_id=row.build_run_id,
        last_active_at=row.last_active_at,
        dropped_at=row.dropped_at,
    )


def _audit_entry(row: AuditLogRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        outcome=AuditOutcome(row.outcome),
        details=dict(row.details or {}),
    )


def _state_change(row: StateHistoryRow) -> StateChange:
    return StateChange(
        id=row.id,
        table_name=row.table_name,
        from_state=TableState(row.from_state),
        to_state=TableState(row.to_state),
        transition=Transition(row.transition),
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        at=row.at,
        reason=row.reason,
    )


def _add_audit(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    outcome: AuditOutcome | str,
    details: Mapping[str, Any] | None,
) -> int:
    row = AuditLogRow(
        at=_now(),
        actor=actor,
        action=action,
        target=target,
        outcome=_outcome(outcome).value,
        details=json_safe(dict(details or {})),
    )
    session.add(row)
    session.flush()
    return row.id


def _retained_count(session: Session, name: str) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(TableVersionRow)
        .where(TableVersionRow.table_name == name, TableVersionRow.dropped_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def _require_table(session: Session, name: str, *, lock: bool = False) -> TableRow:
    stmt = sa.select(TableRow).where(TableRow.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            f"table {name!r} is not in the catalog; {_LIST_TABLES_HINT}",
            details={"table": name},
        )
    return row


def _require_version(session: Session, name: str, version: int) -> TableVersionRow:
    row = session.get(TableVersionRow, (name, version))
    if row is None:
        known = session.scalars(
            sa.select(TableVersionRow.version)
            .where(TableVersionRow.table_name == name, TableVersionRow.dropped_at.is_(None))
            .order_by(TableVersionRow.version)
        ).all()
        listed = ", ".join(str(v) for v in known) or "none"
        raise NotFound(
            f"{name} has no version {version}; its retained versions are: {listed}",
            details={"table": name, "version": version, "retained_versions": list(known)},
        )
    return row


def alembic_config() -> Config:
    """Alembic configuration built in code, so no ini file has to be found at run time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


# --------------------------------------------------------------------------- engine


def database_url(url: str) -> sa.URL:
    """Parse a catalog URL, pinning bare ``postgresql://`` to psycopg2.

    SQLAlchemy 2.1 would otherwise pick psycopg 3, which Spyne does not install.
    """
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _create_engine(url: str, lock_timeout_s: float) -> sa.Engine:
    parsed = database_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        pg_engine = sa.create_engine(parsed, pool_pre_ping=True)
        timeout_ms = int(lock_timeout_s * 1000)

        @event.listens_for(pg_engine, "connect")
        def _on_pg_connect(dbapi_conn: Any, _record: Any) -> None:
            # Row locks (transitions, drops) wait this long, then fail as ConcurrentChange
            # instead of hanging behind a stuck session.
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"SET lock_timeout = {timeout_ms}")
            finally:
                cur.close()
            dbapi_conn.commit()

        return pg_engine
    if backend != "sqlite":
        raise ConfigError(
            f"the catalog runs on SQLite or PostgreSQL, not {backend}",
            details={"variable": "SPYNE_CATALOG_URL", "backend": backend},
        )

    memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": lock_timeout_s, "check_same_thread": False}
    }
    if memory:
        # One shared connection, or every checkout would see a different empty database.
        kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(parsed, **kwargs)
    busy_ms = int(lock_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN and never take the
        # write lock early; hand BEGIN over to the "begin" hook below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if not memory:
                _ensure_wal(cur, lock_timeout_s)
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _ensure_wal(cur: Any, timeout_s: float) -> None:
    """Switch a file database to WAL once; the switch does not wait on SQLite's busy handler.

    Several processes opening a brand-new catalog at once race for it: a loser sees
    "database is locked" at once, so it retries until the winner's switch is visible.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------- transitions


class TransitionTx:
    """One locked transaction on one table, handed out by :meth:`Catalog.transition`.

    Everything done through it commits together when the ``with`` block ends, or not
    at all if the block raises.
    """

    def __init__(self, catalog: Catalog, session: Session, table: TableInfo) -> None:
        self._catalog = catalog
        self._session = session
        self._table = table
        self._closed = False

    @property
    def table(self) -> TableInfo:
        """The locked row as of now, including changes made earlier in this block."""
        return self._table

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this transition has already ended; open a new one")

    def version(self, version: int) -> VersionInfo:
        """A version of the locked table, read inside the lock (e.g. to check its gate)."""
        self._check_open()
        with self._catalog._errors():
            return _version_info(_require_version(self._session, self._table.name, version))

    def versions(self, include_dropped: bool = False) -> list[VersionInfo]:
        self._check_open()
        with self._catalog._errors():
            return self._catalog._versions(self._session, self._table.name, include_dropped)

    def set_state(
        self,
        to_state: TableState,
        transition: Transition,
        to_version: int | None,
        actor: str,
        reason: str | None = None,
    ) -> TableInfo:
        """Move the table; ``to_version`` is its active version afterwards.

        The move must be one the lifecycle allows from the current state. An ACTIVE
        table needs a registered, not dropped version; a DEPRECATED one may keep
        its version (so it can be restored) or none.
        """
        self._check_open()
        before = self._table
        expected = next_state(before.state, transition)
        if to_state != expected:
            raise InvalidTransition(
                f"{transition.value} moves {before.name} from {before.state.value} to "
                f"{expected.value}, not {to_state.value}",
                details={
                    "table": before.name,
                    "from_state": before.state.value,
                    "transition": transition.value,
                    "to_state": to_state.value,
                },
            )
        if to_state == TableState.ACTIVE and to_version is None:
            raise InvalidTransition(
                f"an ACTIVE table needs an active version: name the version of {before.name} "
                f"to {transition.value}",
                details={"table": before.name, "transition": transition.value},
            )
        with self._catalog._errors():
            return self._apply(before, to_state, transition, to_version, actor, reason)

    def _apply(
        self,
        before: TableInfo,
        to_state: TableState,
        transition: Transition,
        to_version: int | None,
        actor: str,
        reason: str | None,
    ) -> TableInfo:
        s = self._session
        if to_version is not None:
            target = _require_version(s, before.name, to_version)
            if target.dropped_at is not None:
                raise InvalidTransition(
                    f"version {to_version} of {before.name} was dropped and cannot be made "
                    "active; rebuild it as a new version",
                    details={"table": before.name, "version": to_version},
                )
        now = _now()
        was_serving = before.state == TableState.ACTIVE and before.active_version is not None
        still_serving = to_state == TableState.ACTIVE and to_version == before.active_version
        published = to_state == TableState.ACTIVE and not (
            before.state == TableState.ACTIVE and to_version == before.active_version
        )
        values: dict[str, Any] = {
            "state": to_state.value,
            "active_version": to_version,
            "row_version": before.row_version + 1,
            "updated_at": now,
        }
        if published:
            values["last_promoted_at"] = now
        result = cast(
            sa.CursorResult[Any],
            s.execute(
                sa.update(TableRow)
                .where(TableRow.name == before.name, TableRow.row_version == before.row_version)
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            raise ConcurrentChange(
                f"{before.name} was changed by someone else while this change was prepared; "
                "look at its state again and retry",
                details={"table": before.name, "seen_row_version": before.row_version},
            )
        if was_serving and not still_serving:
            s.execute(
                sa.update(TableVersionRow)
                .where(
                    TableVersionRow.table_name == before.name,
                    TableVersionRow.version == before.active_version,
                )
                .values(last_active_at=now)
                .execution_options(synchronize_session=False)
            )
        s.add(
            StateHistoryRow(
                table_name=before.name,
                from_state=before.state.value,
                to_state=to_state.value,
                transition=transition.value,
                from_version=before.active_version,
                to_version=to_version,
                actor=actor,
                at=now,
                reason=reason,
            )
        )
        s.flush()
        self._table = replace(
            before,
            state=to_state,
            active_version=to_version,
            row_version=before.row_version + 1,
            updated_at=now,
            last_promoted_at=now if published else before.last_promoted_at,
        )
        return self._table

    def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        outcome: AuditOutcome | str = AuditOutcome.ALLOWED,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Audit entry committed with the transition (and rolled back with it).

        Same arguments as :meth:`Catalog.audit`; ``target`` defaults to the table.
        Record refusals with :meth:`Catalog.audit` instead: raising to refuse rolls
        this transaction back, entry included.
        """
        self._check_open()
        with self._catalog._errors():
            return _add_audit(
                self._session, actor, action, target or self._table.name, outcome, details
            )


# --------------------------------------------------------------------------- catalog


class Catalog:
    """The control-plane database behind every surface (CLI, API, Dagster)."""

    def __init__(self, url: str, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self.url = url
        self._lock_timeout_s = lock_timeout_s
        self._engine = _create_engine(url, lock_timeout_s)
        self._writer = self._engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._is_pg = self._engine.dialect.name == "postgresql"

    def __repr__(self) -> str:
        return f"Catalog({self._engine.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def dispose(self) -> None:
        self._engine.dispose()

    # ---------------------------------------------------------------- plumbing

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn lock waits that ran out and a missing schema into errors a person can act on."""
        try:
            yield
        except sa_exc.OperationalError as exc:
            text = str(exc.orig).lower()
            code = getattr(exc.orig, "pgcode", None)
            if "database is locked" in text or code in {"55P03", "40001", "40P01"}:
                raise ConcurrentChange(
                    "the catalog is busy with another change that did not finish within "
                    f"{self._lock_timeout_s:g}s; retry in a moment",
                    details={"lock_timeout_s": self._lock_timeout_s},
                ) from exc
            if "no such table" in text:
                raise self._missing_schema() from exc
            if "unable to open database file" in text:
                raise ConfigError(
                    f"cannot open the catalog file {self._sqlite_path()}: its folder is missing "
                    "or not writable; Catalog.upgrade() creates it (every `spyne` command runs it on start)",
                    details={"catalog": repr(self)},
                ) from exc
            raise
        except sa_exc.ProgrammingError as exc:
            if getattr(exc.orig, "pgcode", None) == "42P01":
                raise self._missing_schema() from exc
            raise

    def _missing_schema(self) -> ConfigError:
        return ConfigError(
            "the catalog database has no schema yet; run the catalog migrations with "
            "Catalog.upgrade() (every `spyne` command runs it on start)",
            details={"catalog": repr(self)},
        )

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Session]:
        with (
            self._errors(),
            Session(self._writer if write else self._engine, expire_on_commit=False) as s,
            s.begin(),
        ):
            yield s

    def _pg_lock(self, session: Session, key: int) -> None:
        if self._is_pg:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    # ---------------------------------------------------------------- schema

    def _sqlite_path(self) -> Path | None:
        database = self._engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return Path(database).expanduser()

    def upgrade(self) -> None:
        """Migrate to the newest schema; safe to run again and from several processes at once."""
        path = self._sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        cfg = alembic_config()
        with self._errors(), self._writer.begin() as conn:
            if self._is_pg:
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_MIGRATIONS}
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        """The migration the database is at (None before the first upgrade)."""
        path = self._sqlite_path()
        if path is not None and not path.exists():
            return None  # asking must not create the file
        with self._engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()

    def needs_upgrade(self) -> bool:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        return self.schema_revision() != head

    # ---------------------------------------------------------------- principals

    def create_principal(self, name: str, role: Role, created_by: str) -> tuple[PrincipalInfo, str]:
        """Create a principal and return its API key; the key is shown this once only."""
        name = name.strip()
        if not name:
            raise ValidationFailed("a principal needs a name", details={"field": "name"})
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:KEY_PREFIX_LENGTH]
        try:
            with self._session(write=True) as s:
                exists = s.scalar(sa.select(PrincipalRow.id).where(PrincipalRow.name == name))
                if exists is not None:
                    raise self._principal_exists(name)
                row = PrincipalRow(
                    name=name,
                    role=role.label,
                    api_key_hash=hash_api_key(key),
                    key_prefix=prefix,
                    created_at=_now(),
                    created_by=created_by,
                    disabled=False,
                )
                s.add(row)
                s.flush()
                info = _principal_info(row)
                _add_audit(
                    s,
                    created_by,
                    "create_principal",
                    f"principal:{name}",
                    AuditOutcome.ALLOWED,
                    {"role": role.label, "key_prefix": prefix},
                )
        except sa_exc.IntegrityError as exc:
            raise self._principal_exists(name) from exc
        return info, key

    @staticmethod
    def _principal_exists(name: str) -> ValidationFailed:
        return ValidationFailed(
            f"a principal named {name!r} already exists; pick another name",
            details={"name": name},
        )

    def authenticate(self, api_key: str | None) -> PrincipalInfo:
        """The principal owning ``api_key``; the refusal never says which keys exist."""
        key = (api_key or "").strip()
        if not key:
            raise AuthenticationRequired(
                "no API key was given: set SPYNE_API_KEY to your key (an admin can create one)",
                details={"variable": "SPYNE_API_KEY"},
            )
        with self._session(write=False) as s:
            row = s.scalars(
                sa.select(PrincipalRow).where(PrincipalRow.api_key_hash == hash_api_key(key))
            ).first()
            if row is None or row.disabled:
                raise AuthenticationRequired(
                    "the API key is not valid (unknown or disabled); ask an admin for a new key"
                )
            return _principal_info(row)

    def disable_principal(self, name: str, actor: str) -> PrincipalInfo:
        """Disable a principal's key for good; rows stay so the audit log keeps its actors."""
        with self._session(write=True) as s:
            row = s.scalars(sa.select(PrincipalRow).where(PrincipalRow.name == name)).first()
            if row is None:
                raise NotFound(f"no principal named {name!r}", details={"name": name})
            row.disabled = True
            s.flush()
            _add_audit(s, actor, "disable_principal", f"principal:{name}", AuditOutcome.ALLOWED, {})
            return _principal_info(row)

    def has_admin(self) -> bool:
        with self._session(write=False) as s:
            found = s.scalar(
                sa.select(PrincipalRow.id)
                .where(PrincipalRow.role == Role.ADMIN.label, PrincipalRow.disabled.is_(False))
                .limit(1)
            )
            return found is not None

    def list_principals(self) -> list[PrincipalInfo]:
        with self._session(write=False) as s:
            rows = s.scalars(sa.select(PrincipalRow).order_by(PrincipalRow.name)).all()
            return [_principal_info(r) for r in rows]

    # ---------------------------------------------------------------- system mode

    @staticmethod
    def _mode(session: Session) -> ModeInfo:
        row = session.scalars(
            sa.select(SystemModeRow).order_by(SystemModeRow.version.desc()).limit(1)
        ).first()
        return _mode_info(row)

    def current_mode(self) -> ModeInfo:
        """The newest mode row; READ_ONLY (version 0) when none was ever set."""
        with self._session(write=False) as s:
            return self._mode(s)

    def set_mode(self, mode: SystemMode, actor: str, reason: str | None = None) -> ModeInfo:
        """Append a new mode version and its audit entry, atomically."""
        with self._session(write=True) as s:
            self._pg_lock(s, _PG_LOCK_MODE)
            before = self._mode(s)
            row = SystemModeRow(
                version=before.version + 1,
                mode=mode.value,
                changed_at=_now(),
                changed_by=actor,
                reason=reason,
            )
            s.add(row)
            s.flush()
            _add_audit(
                s,
                actor,
                "set_mode",
                MODE_TARGET,
                AuditOutcome.ALLOWED,
                {
                    "from": before.mode.value,
                    "to": mode.value,
                    "version": row.version,
                    "reason": reason,
                },
            )
            return _mode_info(row)

    # ---------------------------------------------------------------- tables

    def ensure_table(self, ref: TableRef, state: TableState = TableState.SHADOW) -> TableInfo:
        """The table's row, created in ``state`` if new; an existing row is left as it is."""
        if state not in (TableState.SHADOW, TableState.READ_ONLY):
            raise InvalidTransition(
                f"a table enters the catalog as SHADOW or READ_ONLY, not {state.value}; "
                "it becomes ACTIVE by being promoted",
                details={"table": ref.canonical, "state": state.value},
            )
        name = ref.canonical
        try:
            with self._session(write=True) as s:
                row = s.get(TableRow, name)
                if row is None:
                    now = _now()
                    row = TableRow(
                        name=name,
                        layer=ref.layer.value,
                        state=state.value,
                        active_version=None,
                        auto_publish=None,
                        row_version=1,
                        created_at=now,
                        updated_at=now,
                        last_promoted_at=None,
                    )
                    s.add(row)
                    s.flush()
                return _table_info(row, _retained_count(s, name))
        except sa_exc.IntegrityError:
            # Another process created it between our read and our insert.
            return self.get_table(name)

    def get_table(self, name: str | TableRef) -> TableInfo:
        with self._session(write=False) as s:
            row = _require_table(s, _name(name))
            return _table_info(row, _retained_count(s, row.name))

    def list_tables(
        self, *, layer: Layer | None = None, state: TableState | None = None
    ) -> list[TableInfo]:
        counts = (
            sa.select(TableVersionRow.table_name, sa.func.count().label("n"))
            .where(TableVersionRow.dropped_at.is_(None))
            .group_by(TableVersionRow.table_name)
            .subquery()
        )
        stmt = (
            sa.select(TableRow, sa.func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.table_name == TableRow.name)
            .order_by(TableRow.name)
        )
        if layer is not None:
            stmt = stmt.where(TableRow.layer == layer.value)
        if state is not None:
            stmt = stmt.where(TableRow.state == state.value)
        with self._session(write=False) as s:
            result: list[tuple[TableRow, int]] = [(r[0], r[1]) for r in s.execute(stmt)]
            return [_table_info(row, int(n)) for row, n in result]

    def set_auto_publish(
        self, name: str | TableRef, auto_publish: bool | None, actor: str
    ) -> TableInfo:
        """Per-table override of automatic publishing (None: follow the default)."""
        name = _name(name)
        with self._session(write=True) as s:
            row = _require_table(s, name, lock=True)
            before = row.auto_publish
            row.auto_publish = auto_publish
            row.row_version += 1
            row.updated_at = _now()
            s.flush()
            _add_audit(
                s,
                actor,
                "set_auto_publish",
                name,
                AuditOutcome.ALLOWED,
                {"from": before, "to": auto_publish},
            )
            return _table_info(row, _retained_count(s, name))

    # ---------------------------------------------------------------- versions

    def register_version(
        self,
        name: str | TableRef,
        version: int,
        physical_name: str,
        row_count: int,
        schema: Sequence[Mapping[str, Any]],
        content_hash: str,
        build_run_id: str | None = None,
    ) -> VersionInfo:
        """Record a built version. Same content again is a no-op; different content is refused.

        Versions are immutable: a rebuild with other data is a new version number.
        """
        name = _name(name)
        if version < 1:
            raise ValidationFailed(
                f"version must be 1 or more, got {version}", details={"version": version}
            )
        if row_count < 0:
            raise ValidationFailed(
                f"row_count cannot be negative, got {row_count}", details={"row_count": row_count}
            )
        schema_json = json_safe([dict(c) for c in schema])
        try:
            with self._session(write=True) as s:
                table = _require_table(s, name)
                if table.state == TableState.READ_ONLY.value:
                    raise ValidationFailed(
                        f"{name} is a READ_ONLY external source; Spyne does not build versions of it",
                        details={"table": name},
                    )
                existing = s.get(TableVersionRow, (name, version))
                if existing is not None:
                    return self._same_or_refuse(
                        existing, physical_name, row_count, schema_json, content_hash
                    )
                row = TableVersionRow(
                    table_name=name,
                    version=version,
                    physical_name=physical_name,
                    created_at=_now(),
                    row_count=row_count,
                    schema_json=schema_json,
                    content_hash=content_hash,
                    gate_status=GateStatus.NOT_RUN.value,
                    gate_details=None,
                    drift_json=None,
                    build_run_id=build_run_id,
                )
                s.add(row)
                s.flush()
                return _version_info(row)
        except sa_exc.IntegrityError as exc:
            with self._session(write=False) as s:
                existing = s.get(TableVersionRow, (name, version))
                if existing is not None:
                    return self._same_or_refuse(
                        existing, physical_name, row_count, schema_json, content_hash
                    )
            raise ValidationFailed(
                f"physical table {physical_name!r} is already registered for another version; "
                "every version needs its own physical table",
                details={"table": name, "version": version, "physical_name": physical_name},
            ) from exc

    @staticmethod
    def _same_or_refuse(
        existing: TableVersionRow,
        physical_name: str,
        row_count: int,
        schema_json: list[dict[str, Any]],
        content_hash: str,
    ) -> VersionInfo:
        incoming = {
            "physical_name": physical_name,
            "row_count": row_count,
            "schema": schema_json,
            "content_hash": content_hash,
        }
        stored = {
            "physical_name": existing.physical_name,
            "row_count": existing.row_count,
            "schema": existing.schema_json,
            "content_hash": existing.content_hash,
        }
        differs = sorted(k for k in incoming if incoming[k] != stored[k])
        if differs:
            raise ValidationFailed(
                f"version {existing.version} of {existing.table_name} is already registered "
                f"with different {', '.join(differs)}; versions are immutable, register the "
                "new build as the next version",
                details={
                    "table": existing.table_name,
                    "version": existing.version,
                    "differs": differs,
                },
            )
        return _version_info(existing)

    def next_version(self, name: str | TableRef) -> int:
        """One more than any version ever registered, dropped ones included: numbers never repeat."""
        name = _name(name)
        with self._session(write=False) as s:
            _require_table(s, name)
            highest = s.scalar(
                sa.select(sa.func.max(TableVersionRow.version)).where(
                    TableVersionRow.table_name == name
                )
            )
            return int(highest or 0) + 1

    @staticmethod
    def _versions(session: Session, name: str, include_dropped: bool) -> list[VersionInfo]:
        stmt = sa.select(TableVersionRow).where(TableVersionRow.table_name == name)
        if not include_dropped:
            stmt = stmt.where(TableVersionRow.dropped_at.is_(None))
        rows = session.scalars(stmt.order_by(TableVersionRow.version)).all()
        return [_version_info(r) for r in rows]

    def list_versions(
        self, name: str | TableRef, include_dropped: bool = False
    ) -> list[VersionInfo]:
        """Versions oldest first."""
        name = _name(name)
        with self._session(write=False) as s:
            _require_table(s, name)
            return self._versions(s, name, include_dropped)

    def get_version(self, name: str | TableRef, version: int) -> VersionInfo:
        name = _name(name)
        with self._session(write=False) as s:
            _require_table(s, name)
            return _version_info(_require_version(s, name, version))

    def record_gate(
        self,
        name: str | TableRef,
        version: int,
        status: GateStatus | str,
        details: Mapping[str, Any] | None = None,
        *,
        actor: str = "system",
    ) -> VersionInfo:
        """Record (or re-record) a version's gate verdict, with its audit entry.

        The verdict comes after the build, so unlike the version's data it can change.
        """
        name = _name(name)
        gate = _gate_status(status)
        gate_details = json_safe(dict(details or {}))
        with self._session(write=True) as s:
            row = _require_version(s, name, version)
            row.gate_status = gate.value
            row.gate_details = gate_details
            s.flush()
            _add_audit(
                s,
                actor,
                "gate_decision",
                name,
                AuditOutcome.RECORDED,
                {"version": version, "status": gate.value, "details": gate_details},
            )
            return _version_info(row)

    def record_drift(
        self, name: str | TableRef, version: int, drift: Mapping[str, Any]
    ) -> VersionInfo:
        """Attach the drift report comparing this version with the active one."""
        name = _name(name)
        with self._session(write=True) as s:
            row = _require_version(s, name, version)
            row.drift_json = json_safe(dict(drift))
            s.flush()
            return _version_info(row)

    def mark_dropped(self, name: str | TableRef, version: int) -> VersionInfo:
        """Note that a version's physical table is gone; its row stays, so its number is never reused.

        Locks the table row so a concurrent promotion cannot pick the version being dropped.
        """
        name = _name(name)
        with self._session(write=True) as s:
            table = _require_table(s, name, lock=True)
            row = _require_version(s, name, version)
            if row.dropped_at is not None:
                return _version_info(row)
            if table.active_version == version:
                raise InvalidTransition(
                    f"version {version} is the active version of {name} and cannot be dropped; "
                    "promote or roll back to another version first",
                    details={"table": name, "version": version},
                )
            row.dropped_at = _now()
            s.flush()
            return _version_info(row)

    # ---------------------------------------------------------------- transitions

    @contextmanager
    def transition(
        self, name: str | TableRef, *, expected_row_version: int | None = None
    ) -> Iterator[TransitionTx]:
        """Lock one table's row for a state change and commit it all at the end, or nothing.

        Waits (up to the lock timeout) while another transition of the same table is
        running, then shows its result. ``expected_row_version`` makes the change
        conditional on what a client saw earlier (ConcurrentChange otherwise).
        Do the warehouse work inside the block, after the catalog calls: if it
        raises, the catalog is left unchanged.
        """
        name = _name(name)
        session = Session(self._writer, expire_on_commit=False)
        tx: TransitionTx | None = None
        try:
            with self._errors():
                session.begin()
                row = _require_table(session, name, lock=True)
                table = _table_info(row, _retained_count(session, name))
            if expected_row_version is not None and table.row_version != expected_row_version:
                raise ConcurrentChange(
                    f"{name} changed since you looked at it (row version "
                    f"{expected_row_version} -> {table.row_version}); look again and retry",
                    details={
                        "table": name,
                        "expected_row_version": expected_row_version,
                        "row_version": table.row_version,
                    },
                )
            tx = TransitionTx(self, session, table)
            yield tx
            tx._closed = True
            with self._errors():
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            if tx is not None:
                tx._closed = True
            session.close()

    # ---------------------------------------------------------------- audit & history

    def audit(
        self,
        actor: str,
        action: str,
        target: str | None,
        outcome: AuditOutcome | str,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one audit entry in its own transaction (so refusals are kept too)."""
        with self._session(write=True) as s:
            return _add_audit(s, actor, action, target, outcome, details)

    def list_audit(
        self, limit: int = 50, target: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        stmt = sa.select(AuditLogRow).order_by(AuditLogRow.id.desc()).limit(max(0, limit))
        if target is not None:
            stmt = stmt.where(AuditLogRow.target == target)
        if action is not None:
            stmt = stmt.where(AuditLogRow.action == action)
        with self._session(write=False) as s:
            return [_audit_entry(r) for r in s.scalars(stmt).all()]

    def history(self, name: str | TableRef) -> list[StateChange]:
        """A table's state changes, oldest first."""
        name = _name(name)
        with self._session(write=False) as s:
            _require_table(s, name)
            rows = s.scalars(
                sa.select(StateHistoryRow)
                .where(StateHistoryRow.table_name == name)
                .order_by(StateHistoryRow.id)
            ).all()
            return [_state_change(r) for r in rows]
