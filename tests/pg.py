"""Real PostgreSQL for tests: find (or start) a server and give each test its own database.

A deployment reaches the catalog with two roles, and so do the tests:

- the **owner** migrates (``spyne init`` with ``SPYNE_CATALOG_OWNER_URL``) and owns every
  table; the tests also use it to create and drop a database per test (CREATEDB);
- the **application** role is what Spyne connects as (``SPYNE_CATALOG_URL``): it owns nothing
  and only holds what ``spyne init`` grants it.

Resolution order for the server:
1. ``SPYNE_TEST_PG_URL`` (owner) and ``SPYNE_TEST_PG_APP_URL`` (CI, or a server you run);
2. the machine's PostgreSQL, started with ``scripts/start-postgres.sh`` (creates both roles);
3. none: tests skip, unless ``SPYNE_REQUIRE_PG=1`` (CI) where they fail instead.

Each test then gets a brand-new database (or, when the owner may not create databases, a
brand-new schema) that is dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SCRIPT = REPO_ROOT / "scripts" / "start-postgres.sh"
URL_VARIABLE = "SPYNE_TEST_PG_URL"
APP_URL_VARIABLE = "SPYNE_TEST_PG_APP_URL"
REQUIRE_VARIABLE = "SPYNE_REQUIRE_PG"
DB_PREFIX = "spyne_t_"
_DROP_ATTEMPTS = 20


class PostgresUnavailable(RuntimeError):
    """No server could be found or started; the message says why and what to do."""


@dataclass(frozen=True)
class PgRoles:
    """Two URLs to one database: as its owner, and as the application role."""

    owner_url: str
    app_url: str

    @property
    def app_role(self) -> str:
        return str(sa_url(self.app_url).username)

    @property
    def owner_role(self) -> str:
        return str(sa_url(self.owner_url).username)


@dataclass(frozen=True)
class CatalogUrls:
    """How a test opens a catalog: ``url`` as Spyne connects, ``owner_url`` to migrate it.

    On SQLite there is one file and no roles, so ``owner_url`` is None; on PostgreSQL ``url``
    is the application role and ``owner_url`` the owner, as in a deployment.
    """

    url: str
    owner_url: str | None = None

    @property
    def admin_url(self) -> str:
        """The most privileged URL: what a person with the owner's rights would use."""
        return self.owner_url or self.url

    @property
    def is_pg(self) -> bool:
        return self.url.startswith("postgresql")


def pg_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


def binaries_available() -> bool:
    return shutil.which("pg_ctlcluster") is not None and bool(
        glob.glob("/usr/lib/postgresql/*/bin/postgres")
    )


def sa_url(url: str) -> sa.URL:
    """Bare ``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def start_server() -> PgRoles:
    """Run the start script and return the two URLs it exports."""
    if not binaries_available():
        raise PostgresUnavailable(
            f"PostgreSQL is not installed and {URL_VARIABLE} is not set; install it with "
            "`apt-get install -y postgresql` or point the variables at a server"
        )
    proc = subprocess.run(
        ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=180, check=False
    )
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"{START_SCRIPT.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    exported = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exported[name.strip()] = value.strip()
    if not exported.get(URL_VARIABLE) or not exported.get(APP_URL_VARIABLE):
        raise PostgresUnavailable(
            f"{START_SCRIPT.name} printed no {URL_VARIABLE} and {APP_URL_VARIABLE}:\n{proc.stdout}"
        )
    return PgRoles(exported[URL_VARIABLE], exported[APP_URL_VARIABLE])


def _configured_roles() -> PgRoles:
    owner = os.environ.get(URL_VARIABLE, "").strip()
    app = os.environ.get(APP_URL_VARIABLE, "").strip()
    if owner and app:
        return PgRoles(owner, app)
    if not owner:
        return start_server()
    # The owner URL alone (an older shell): the start script knows the application role, if
    # it manages this very server.
    started = start_server() if binaries_available() else None
    if started is not None and sa_url(started.owner_url) == sa_url(owner):
        return started
    raise PostgresUnavailable(
        f"{URL_VARIABLE} is set but {APP_URL_VARIABLE} is not: the catalog's tests connect as an "
        "application role that owns nothing; create one (LOGIN only) and set "
        f'{APP_URL_VARIABLE} to it, or run `eval "$(scripts/start-postgres.sh)"`'
    )


def _check_connects(url: str, what: str) -> None:
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise PostgresUnavailable(
            f"cannot connect as {what} to {sa_url(url)!r}: {exc.orig}"
        ) from exc
    finally:
        engine.dispose()


def server_roles() -> PgRoles:
    """A reachable server's owner and application URLs, or PostgresUnavailable."""
    roles = _configured_roles()
    if roles.owner_role == roles.app_role:
        raise PostgresUnavailable(
            f"{URL_VARIABLE} and {APP_URL_VARIABLE} name the same role ({roles.app_role}); the "
            "application role must be another role that owns nothing"
        )
    _check_connects(roles.owner_url, "the owner")
    _check_connects(roles.app_url, "the application role")
    return roles


def _in_database(url: str, database: str) -> str:
    return sa_url(url).set(database=database).render_as_string(hide_password=False)


def _with_search_path(url: str, schema: str) -> str:
    parsed = sa_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def fresh_database(server: PgRoles) -> Iterator[PgRoles]:
    """An empty database of its own (owned by the owner role), dropped afterwards."""
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        sa_url(server.owner_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.ProgrammingError:
            # No CREATEDB privilege (e.g. a managed server): isolate by schema instead.
            with _fresh_schema(admin, server, name) as roles:
                yield roles
            return
        try:
            yield PgRoles(_in_database(server.owner_url, name), _in_database(server.app_url, name))
        finally:
            _drop_database(admin, name)
    finally:
        admin.dispose()


def _drop_database(admin: sa.Engine, name: str) -> None:
    """Drop a test database, ending leftover sessions (a failed test may leave some open).

    PostgreSQL 15 refuses ``WITH (FORCE)`` while an autovacuum worker is in the database
    unless the dropping role may signal backends; the worker ends in a moment, so retry.
    """
    for attempt in range(_DROP_ATTEMPTS):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.DBAPIError:
            if attempt == _DROP_ATTEMPTS - 1:
                raise
            time.sleep(0.25)


@contextmanager
def _fresh_schema(admin: sa.Engine, server: PgRoles, name: str) -> Iterator[PgRoles]:
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield PgRoles(
            _with_search_path(server.owner_url, name), _with_search_path(server.app_url, name)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
