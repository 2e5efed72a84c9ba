"""The catalog's schema and its guards: created only on purpose, checked on every open.

Every test runs on a SQLite file and on PostgreSQL (application role + owner), except where
it is about a file.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from orchestration.catalog import Catalog, alembic_config, database_url
from orchestration.catalog.schema import HEAD, KNOWN_REVISIONS
from policies.errors import (
    ConfigError,
    IntegrityViolation,
    NotInitialized,
    SpyneError,
    StorageUnavailable,
)
from policies.lifecycle import TableState, Transition
from policies.modes import SystemMode
from tests.catalog_support import (
    ALL_TABLES,
    NAME,
    admin_engine,
    alembic_to,
    open_catalog,
    rows,
    run_threads,
    seeded,
)
from tests.pg import CatalogUrls, PgRoles

# One guard per kind on each backend -> its table, and a statement it must stop.
GUARDS = {
    "sqlite": {
        "audit_log_no_delete": ("audit_log", "DELETE FROM audit_log"),
        "state_history_no_update": ("state_history", "UPDATE state_history SET actor = 'x'"),
        "intents_close_once": ("intents", "UPDATE intents SET action = 'x'"),
    },
    "postgresql": {
        "audit_log_append_only": ("audit_log", "DELETE FROM audit_log"),
        "system_modes_no_truncate": ("system_modes", "TRUNCATE system_modes"),
        "intents_close_once": ("intents", "UPDATE intents SET action = 'x'"),
    },
}


def test_head_is_alembic_head_and_every_revision_is_known() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())  # type: ignore[arg-type]
    assert scripts.get_current_head() == HEAD
    assert sorted(r.revision for r in scripts.walk_revisions()) == sorted(KNOWN_REVISIONS)


def test_upgrade_twice_reaches_head_and_changes_nothing(catalog_urls: CatalogUrls) -> None:
    c = open_catalog(catalog_urls)
    try:
        assert c.schema_revision() is None
        assert c.upgrade() == []
        c.audit("ada", "first", None, "recorded")
        assert c.upgrade() == []
        assert c.schema_revision() == HEAD
        c.check_ready()
        assert set(sa.inspect(c.engine).get_table_names()) >= ALL_TABLES
        assert [e.action for e in c.list_audit()] == ["first"]
        assert c.verify_audit().ok
        if not catalog_urls.is_pg:
            assert Path(c.engine.url.database or "").exists()
    finally:
        c.dispose()


def test_concurrent_upgrades_on_a_fresh_database(catalog_urls: CatalogUrls) -> None:
    def up() -> str | None:
        c = open_catalog(catalog_urls)
        try:
            c.upgrade()
            c.check_ready()
            return c.schema_revision()
        finally:
            c.dispose()

    assert run_threads(up, up, up) == [HEAD] * 3


def test_models_match_the_migrations(catalog: Catalog) -> None:
    """Autogenerate finds nothing to do: the models describe exactly what was migrated."""
    with catalog.engine.connect() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.check(cfg)  # type: ignore[arg-type]


def test_0002_is_not_reversible_and_a_downgrade_changes_nothing(
    catalog_urls: CatalogUrls, catalog: Catalog, raw: sa.Engine
) -> None:
    """0002 chains the audit log; an append-only log cannot be unchained, so it refuses (and
    0003, whose dead letters are never deleted, refuses before it)."""
    catalog.audit("ada", "kept", None, "recorded")
    with pytest.raises(NotImplementedError, match="is not reversible"):
        alembic_to(catalog_urls, "0001", down=True)
    assert catalog.schema_revision() == HEAD
    catalog.check_ready()
    assert [e.action for e in catalog.list_audit()] == ["kept"]
    assert catalog.verify_audit().ok
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


def test_0001_downgrade_then_upgrade_restores_the_guards(
    catalog_urls: CatalogUrls, raw: sa.Engine
) -> None:
    """0001's own way down (0002's is refused above), then up to the newest with every guard."""
    alembic_to(catalog_urls, "0001")
    assert {"audit_log", "table_versions"} <= set(sa.inspect(raw).get_table_names())
    alembic_to(catalog_urls, "base", down=True)
    assert not ALL_TABLES & set(sa.inspect(raw).get_table_names())
    c = open_catalog(catalog_urls)
    try:
        c.upgrade()
        c.check_ready()
        c.audit("ada", "after", None, "recorded")
    finally:
        c.dispose()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


def _lift_guard(raw: sa.Engine, name: str, table: str, how: str) -> None:
    with raw.begin() as conn:
        if how == "disable":
            conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {name}"))
        elif conn.dialect.name == "sqlite":
            conn.execute(sa.text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(sa.text(f"DROP TRIGGER {name} ON {table}"))


def _guard_cases() -> Iterator[object]:
    for name in GUARDS["sqlite"]:
        yield pytest.param("sqlite", name, "drop", id=f"sqlite-drop-{name}")
    for name in GUARDS["postgresql"]:
        for how in ("disable", "drop"):
            yield pytest.param(
                "postgresql", name, how, id=f"pg-{how}-{name}", marks=pytest.mark.postgres
            )


@pytest.fixture
def backend_urls(request: pytest.FixtureRequest) -> CatalogUrls:
    if request.node.callspec.params["backend"] == "sqlite":
        return CatalogUrls(str(request.getfixturevalue("sqlite_url")))
    roles = request.getfixturevalue("pg_roles")
    return CatalogUrls(roles.app_url, owner_url=roles.owner_url)


def _something_in_every_table(c: Catalog) -> None:
    seeded(c, 1)
    with c.transition(NAME) as tx:
        tx.open_intent("promote", None, 1, "ada")
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")
        tx.audit("ada", "promote")
    c.set_mode(SystemMode.INGESTION_READY, "ada", "load")


@pytest.mark.parametrize(("backend", "guard", "how"), list(_guard_cases()))
def test_a_lifted_guard_is_refused_on_open_and_upgrade_puts_it_back(
    backend: str, guard: str, how: str, backend_urls: CatalogUrls
) -> None:
    table, statement = GUARDS[backend][guard]
    c = open_catalog(backend_urls)
    raw = admin_engine(backend_urls)
    try:
        c.upgrade()
        _something_in_every_table(c)
        c.check_ready()
        _lift_guard(raw, guard, table, how)

        with pytest.raises(IntegrityViolation, match=guard) as refused:
            c.check_ready()
        assert refused.value.code == "integrity_violation"
        assert refused.value.details["missing"] == [guard]

        assert c.upgrade() == [guard]
        c.check_ready()
        assert c.upgrade() == []
        before = rows(raw, table)
        with pytest.raises(sa.exc.DBAPIError), raw.begin() as conn:
            conn.execute(sa.text(statement))
        assert rows(raw, table) == before
    finally:
        raw.dispose()
        c.dispose()


# --------------------------------------------------------------------------- opening a file


def _write_missing(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def _write_empty(path: Path) -> None:
    _write_missing(path)
    path.write_bytes(b"")


def _write_garbage(path: Path) -> None:
    _write_missing(path)
    path.write_bytes(b"this is a spreadsheet, not a database\n" * 200)


def _write_older_schema(path: Path) -> None:
    alembic_to(CatalogUrls(f"sqlite:///{path}"), "0001")


@pytest.mark.parametrize(
    ("make", "code", "says"),
    [
        (_write_missing, "not_initialized", "does not exist"),
        (_write_empty, "not_initialized", "empty"),
        (_write_garbage, "storage_unavailable", "corrupt"),
        (_write_older_schema, "not_initialized", "revision 0001"),
    ],
    ids=["missing", "empty", "not-a-database", "older-schema"],
)
def test_check_ready_names_the_file_and_never_creates_or_migrates_it(
    tmp_path: Path, make: object, code: str, says: str
) -> None:
    path = tmp_path / "home" / "catalog.db"
    make(path)  # type: ignore[operator]
    before = sorted(p.name for p in path.parent.iterdir())
    content = path.read_bytes() if path.exists() else None

    c = Catalog(f"sqlite:///{path}")
    try:
        with pytest.raises(SpyneError) as refused:
            c.check_ready()
    finally:
        c.dispose()

    assert refused.value.code == code
    assert says in refused.value.message
    assert str(path) in refused.value.message
    assert sorted(p.name for p in path.parent.iterdir()) == before
    if make is _write_older_schema:
        assert Catalog(f"sqlite:///{path}").schema_revision() == "0001"
    elif content is not None:
        assert path.read_bytes() == content


@pytest.mark.postgres
def test_check_ready_on_an_empty_or_older_postgres_database_says_what_to_do(
    pg_roles: PgRoles,
) -> None:
    urls = CatalogUrls(pg_roles.app_url, owner_url=pg_roles.owner_url)
    app, owner = open_catalog(urls), Catalog(pg_roles.owner_url)
    try:
        with pytest.raises(NotInitialized, match="spyne init"):
            app.check_ready()
        alembic_to(urls, "0001")
        # A catalog of the single-role days: its owner is told to upgrade it...
        with pytest.raises(NotInitialized, match="schema revision 0001") as older:
            owner.check_ready()
        where = database_url(pg_roles.owner_url).render_as_string(hide_password=True)
        assert where in older.value.message
        # ...and the application role, granted nothing yet, to have the owner run init.
        with pytest.raises(ConfigError, match="SPYNE_CATALOG_OWNER_URL") as ungranted:
            app.check_ready()
        assert pg_roles.app_role in ungranted.value.message
        assert owner.schema_revision() == "0001"
        app.upgrade()
        app.check_ready()
    finally:
        app.dispose()
        owner.dispose()


def test_catalog_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "catalog.db"
    old = os.umask(0o022)
    try:
        c = Catalog(f"sqlite:///{path}")
        try:
            c.upgrade()
            c.audit("ada", "write", None, "recorded")  # the WAL and its index exist now
            files = sorted(p.name for p in path.parent.iterdir())
            assert {"catalog.db", "catalog.db-wal", "catalog.db-shm"} <= set(files)
            for name in files:
                assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        finally:
            c.dispose()
    finally:
        os.umask(old)


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot create files in, even as root (then: immutable)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.access(folder, os.W_OK):  # root ignores modes; an immutable folder stops it too
        chattr = shutil.which("chattr")
        done = chattr and subprocess.run([chattr, "+i", str(folder)], check=False).returncode == 0
        if not done:
            pytest.skip("running as root without `chattr +i`: no folder is unwritable here")
        immutable = True
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_catalog_in_a_folder_that_cannot_be_written_is_storage_unavailable(
    unwritable_dir: Path,
) -> None:
    path = unwritable_dir / "catalog.db"
    c = Catalog(f"sqlite:///{path}")
    try:
        with pytest.raises(StorageUnavailable, match="not writable") as refused:
            c.upgrade()
    finally:
        c.dispose()
    assert str(path) in refused.value.message
    assert not path.exists()


def test_a_catalog_under_a_file_instead_of_a_folder_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the folder should be")
    path = blocker / "catalog.db"
    c = Catalog(f"sqlite:///{path}")
    try:
        with pytest.raises(StorageUnavailable) as refused:
            c.upgrade()
        with pytest.raises(SpyneError) as opened:
            c.check_ready()
    finally:
        c.dispose()
    assert str(path) in refused.value.message
    assert opened.value.code in {"not_initialized", "storage_unavailable"}
    assert blocker.read_text() == "a file where the folder should be"
