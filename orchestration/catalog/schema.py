"""The catalog's schema: created and upgraded only on purpose, checked cheaply on every open.

``spyne init`` runs the Alembic migrations (as the owner role on PostgreSQL) and installs the
guards. Every other command only checks, in one round trip, that the schema is the one this
code expects and that the guards are in place; it never creates or migrates anything, so a
missing, emptied or replaced catalog is an error that names the file, never a silent new start.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from orchestration.catalog import guards
from orchestration.catalog.control_tables import VERSION_TABLE
from orchestration.catalog.engine import PG_LOCK_MIGRATIONS, Database
from policies.errors import ConfigError, IntegrityViolation, NotInitialized, StorageUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration; tests/integration/test_catalog.py checks it against Alembic's head.
HEAD = "0008"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0006", "0007", "0008")


def alembic_config() -> object:
    """Alembic configuration built in code, so no ini file has to be found at run time."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only (SQLite then keeps its WAL files alike)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageUnavailable(
            f"cannot create the catalog file {path}: its folder cannot be created or is not "
            f"writable by this user ({reason}); pick another SPYNE_HOME or SPYNE_CATALOG_URL, "
            "or fix the folder's permissions",
            details={"path": str(path), "error": reason},
        ) from exc


def upgrade(db: Database, app_role: str | None = None) -> list[str]:
    """Migrate to the newest schema, put back missing guards, grant the application role.

    Safe to run again and from several processes at once. Returns the guards it had to create
    beyond what the migrations did (normally none).
    """
    from alembic import command

    path = db.sqlite_path()
    if path is not None:
        create_private_file(path)
    cfg = alembic_config()
    with db.errors(), db.writer.begin() as conn:
        if db.is_pg:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_MIGRATIONS})
        cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.upgrade(cfg, "head")  # type: ignore[arg-type]
        created = guards.install(conn)
        if db.is_pg and app_role:
            guards.grant_application_role(conn, app_role)
    return created


def revision(db: Database) -> str | None:
    """The migration the database is at (None when it has none); never creates the file."""
    path = db.sqlite_path()
    if path is not None and not path.exists():
        return None
    with db.errors(), db.engine.connect() as conn:
        exists = sa.inspect(conn).has_table(VERSION_TABLE)
        if not exists:
            return None
        return conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()


def check_ready(db: Database) -> None:
    """Refuse to work on a catalog that is missing, empty, at another schema, or unguarded."""
    path = db.sqlite_path()
    if path is not None:
        if not path.exists():
            raise db.not_initialized("the file does not exist")
        if path.stat().st_size == 0:
            raise db.not_initialized("the file is empty")
    with db.errors(), db.engine.connect() as conn:
        found = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
        if found != HEAD:
            _refuse_revision(db, found)
        missing = guards.missing(conn)
        if missing:
            raise IntegrityViolation(
                "the catalog's append-only guards are missing or disabled ("
                + ", ".join(missing)
                + "): its history may have been rewritten. Check it with `spyne audit verify`, "
                "then reinstall the guards with `spyne init` as the catalog owner",
                details={"missing": missing},
            )
        if db.is_pg:
            _refuse_owner(conn)


def _refuse_revision(db: Database, found: object) -> None:
    if found is None:
        raise db.not_initialized("it has no schema")
    where = db.location()
    if found in KNOWN_REVISIONS:
        raise NotInitialized(
            f"the catalog {where} is at schema revision {found}; this Spyne needs {HEAD}: "
            "upgrade it with `spyne init` (as the catalog owner on PostgreSQL)",
            details={"catalog": where, "revision": found, "needed": HEAD},
        )
    raise ConfigError(
        f"the catalog {where} is at schema revision {found}, which this Spyne does not know "
        f"(it knows up to {HEAD}); run a newer Spyne",
        details={"catalog": where, "revision": found, "needed": HEAD},
    )


def _refuse_owner(conn: sa.Connection) -> None:
    owner = conn.exec_driver_sql(
        "SELECT tableowner = current_user FROM pg_tables "
        "WHERE schemaname = current_schema() AND tablename = 'audit_log'"
    ).scalar()
    if owner:
        raise ConfigError(
            "Spyne connects to the catalog as the role that owns it, which could disable the "
            "audit log's guards: set SPYNE_CATALOG_URL to an application role (read and insert "
            "only) and SPYNE_CATALOG_OWNER_URL to the owner, then run `spyne init` to grant it",
            details={"variable": "SPYNE_CATALOG_URL"},
        )
