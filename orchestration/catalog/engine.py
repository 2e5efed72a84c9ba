"""The catalog's database: engine, sessions, locks, and database errors turned into typed refusals.

SQLite (local) and PostgreSQL (ci, prod) run the same code; where they differ (write locks,
lock waits, advisory locks) the difference is handled here and nowhere else. Every other
module of the catalog asks :class:`Database` for a session and never sees a driver error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

from policies.errors import ConcurrentChange, ConfigError, NotInitialized, StorageUnavailable

# What a statement runs on: the control plane's own state uses Core connections; the
# capabilities' ORM state passes its session, and both may append to the audit log.
Runner: TypeAlias = "sa.Connection | Session"

DEFAULT_LOCK_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10

# Custom execution option read by the SQLite "begin" hook: writers take the database's
# write lock up front (BEGIN IMMEDIATE) so they queue instead of failing half-way.
_SQLITE_BEGIN = "spyne_sqlite_begin"

# pg_advisory_xact_lock keys; advisory locks need no table privilege, unlike LOCK TABLE.
PG_LOCK_MIGRATIONS = 0x5350_0001
PG_LOCK_MODE = 0x5350_0002
PG_LOCK_AUDIT = 0x5350_0003
PG_LOCK_ADMINS = 0x5350_0004

# SQLSTATEs: lock timeout, serialization failure, deadlock; connection and authentication.
_PG_BUSY = {"55P03", "40001", "40P01"}
_PG_UNDEFINED_TABLE = "42P01"
_PG_VALUE_TOO_LONG = "22001"
_PG_NO_PRIVILEGE = "42501"


def database_url(url: str) -> sa.URL:
    """Parse a catalog URL, pinning bare ``postgresql://`` to psycopg2.

    SQLAlchemy 2.1 would otherwise pick psycopg 3, which Spyne does not install.
    """
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(
            "SPYNE_CATALOG_URL is not a database URL; use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DB",
            details={"variable": "SPYNE_CATALOG_URL"},
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def safe_url(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


class Database:
    """One catalog database: an engine for reads, a writer that queues for the write lock."""

    def __init__(self, url: str, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self.url = database_url(url)
        self.lock_timeout_s = lock_timeout_s
        self.engine = _create_engine(self.url, lock_timeout_s)
        self.writer = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self.dialect = self.engine.dialect.name
        self.is_pg = self.dialect == "postgresql"

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def sqlite_path(self) -> Path | None:
        database = self.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return Path(database).expanduser()

    @contextmanager
    def connect(self, *, write: bool) -> Iterator[sa.Connection]:
        """A connection in one transaction: committed when the block ends, rolled back if it raises."""
        with self.errors(), (self.writer if write else self.engine).begin() as conn:
            yield conn

    @contextmanager
    def session(self, *, write: bool) -> Iterator[Session]:
        """An ORM session in one transaction (the capabilities' state); like :meth:`connect`."""
        from sqlalchemy.orm import Session

        with (
            self.errors(),
            Session(self.writer if write else self.engine, expire_on_commit=False) as s,
            s.begin(),
        ):
            yield s

    def pg_lock(self, runner: Runner, key: int) -> None:
        """Serialise a critical section across processes (PostgreSQL; SQLite writers already queue)."""
        if self.is_pg:
            runner.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn what the database says into errors a person can act on."""
        try:
            yield
        except sa_exc.DBAPIError as exc:
            raise self.translate(exc) from exc
        except sqlite3.DatabaseError as exc:  # raised by the connect hook, before SQLAlchemy wraps
            raise self._sqlite_error(str(exc)) from exc

    def translate(self, exc: sa_exc.DBAPIError) -> Exception:
        text = str(exc.orig).lower()
        code = getattr(exc.orig, "pgcode", None)
        if "database is locked" in text or code in _PG_BUSY:
            return ConcurrentChange(
                "the catalog is busy with another change that did not finish within "
                f"{self.lock_timeout_s:g}s; retry in a moment",
                details={"lock_timeout_s": self.lock_timeout_s},
            )
        if "no such table" in text or code == _PG_UNDEFINED_TABLE:
            return self.not_initialized("it has no schema")
        if code == _PG_NO_PRIVILEGE:
            first = str(exc.orig).strip().splitlines()[0]
            return ConfigError(
                f"the catalog role {self.url.username} may not do this ({first}): it was not "
                "granted what Spyne needs. Run `spyne init` with SPYNE_CATALOG_OWNER_URL set to "
                "the catalog's owner, which grants SPYNE_CATALOG_URL's role its rights",
                details={"catalog": safe_url(self.url), "error": first},
            )
        if code == _PG_VALUE_TOO_LONG:
            return ConfigError(
                f"a value is longer than the catalog allows: {str(exc.orig).splitlines()[0]}",
                details={"catalog": safe_url(self.url)},
            )
        sqlite_file_problem = any(
            words in text
            for words in ("readonly database", "unable to open", "not a database", "malformed")
        )
        if self.dialect == "sqlite" and sqlite_file_problem:
            return self._sqlite_error(str(exc.orig))
        if isinstance(exc, sa_exc.OperationalError) and self.is_pg and code is None:
            # No SQLSTATE: the connection itself failed (refused, timed out, authentication).
            first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no answer"
            return StorageUnavailable(
                f"cannot connect to the catalog at {safe_url(self.url)}: {first}; check "
                "SPYNE_CATALOG_URL (host, port, user, password) and that the server is running",
                details={"catalog": safe_url(self.url), "error": first},
            )
        return exc

    def _sqlite_error(self, message: str) -> Exception:
        path = self.sqlite_path()
        lowered = message.lower()
        if "not a database" in lowered or "malformed" in lowered:
            return StorageUnavailable(
                f"the catalog file {path} is corrupt ({message}); restore it from a backup "
                "(it holds every table's state and the audit log)",
                details={"path": str(path), "error": message},
            )
        if "readonly" in lowered or "unable to open" in lowered:
            return StorageUnavailable(
                f"cannot write the catalog file {path}: its folder is missing or not writable "
                f"by this user ({message})",
                details={"path": str(path), "error": message},
            )
        return StorageUnavailable(
            f"the catalog file {path} cannot be used: {message}",
            details={"path": str(path), "error": message},
        )

    def location(self) -> str:
        """Where the catalog is, for messages: its file, or its URL without the password."""
        return str(self.sqlite_path() or safe_url(self.url))

    def not_initialized(self, why: str) -> NotInitialized:
        where = self.location()
        return NotInitialized(
            f"the catalog {where} is not a Spyne install: {why}. For a new install run "
            "`spyne init`; if it held data, restore it from a backup instead",
            details={"catalog": where},
        )


def _create_engine(url: sa.URL, lock_timeout_s: float) -> sa.Engine:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return _postgres_engine(url, lock_timeout_s)
    if backend != "sqlite":
        raise ConfigError(
            f"the catalog runs on SQLite or PostgreSQL, not {backend}",
            details={"variable": "SPYNE_CATALOG_URL", "backend": backend},
        )
    return _sqlite_engine(url, lock_timeout_s)


def _postgres_engine(url: sa.URL, lock_timeout_s: float) -> sa.Engine:
    engine = sa.create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    timeout_ms = int(lock_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Row locks (transitions, drops) wait this long, then fail as ConcurrentChange
        # instead of hanging behind a stuck session.
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SET lock_timeout = %s", (timeout_ms,))
        finally:
            cur.close()
        dbapi_conn.commit()

    return engine


def _sqlite_engine(url: sa.URL, lock_timeout_s: float) -> sa.Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": lock_timeout_s, "check_same_thread": False}
    }
    if memory:
        # One shared connection, or every checkout would see a different empty database.
        kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(url, **kwargs)
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
