"""Real PostgreSQL for tests: find (or start) a server and give each test its own database.

Resolution order for the server:
1. ``SPYNE_TEST_PG_URL`` (CI, or a server you already run);
2. the machine's PostgreSQL, started with ``scripts/start-postgres.sh``;
3. none: tests skip, unless ``SPYNE_REQUIRE_PG=1`` (CI) where they fail instead.

Each test then gets a brand-new database (or, when the role may not create
databases, a brand-new schema) that is dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SCRIPT = REPO_ROOT / "scripts" / "start-postgres.sh"
URL_VARIABLE = "SPYNE_TEST_PG_URL"
REQUIRE_VARIABLE = "SPYNE_REQUIRE_PG"
DB_PREFIX = "spyne_t_"


class PostgresUnavailable(RuntimeError):
    """No server could be found or started; the message says why and what to do."""


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


def start_server() -> str:
    """Run the start script and return the URL it exports."""
    if not binaries_available():
        raise PostgresUnavailable(
            f"PostgreSQL is not installed and {URL_VARIABLE} is not set; install it with "
            "`apt-get install -y postgresql` or point the variable at a server"
        )
    proc = subprocess.run(
        ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=180, check=False
    )
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"{START_SCRIPT.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    for line in proc.stdout.splitlines():
        prefix = f"export {URL_VARIABLE}="
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise PostgresUnavailable(f"{START_SCRIPT.name} printed no {URL_VARIABLE}:\n{proc.stdout}")


def server_url() -> str:
    """A reachable server's URL, or PostgresUnavailable."""
    url = os.environ.get(URL_VARIABLE, "").strip() or start_server()
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise PostgresUnavailable(f"cannot connect to {sa_url(url)!r}: {exc.orig}") from exc
    finally:
        engine.dispose()
    return url


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A URL to an empty database of its own, dropped (connections and all) afterwards."""
    base = sa_url(server)
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.ProgrammingError:
            # No CREATEDB privilege (e.g. a managed server): isolate by schema instead.
            with _fresh_schema(admin, base, name) as url:
                yield url
            return
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def _fresh_schema(admin: sa.Engine, base: sa.URL, name: str) -> Iterator[str]:
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
