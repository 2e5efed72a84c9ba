"""What only PostgreSQL has: two roles, grants, TRUNCATE, typed columns, per-test databases.

The owner role migrates (``spyne init``) and owns every table; Spyne connects as the
application role, which owns nothing. The tests connect as each role with plain SQLAlchemy
(none of the catalog's code in the way) to show what the database itself allows.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog, IntentStatus, database_url
from policies.errors import ConfigError, StorageUnavailable
from policies.lifecycle import TableState, Transition
from policies.modes import SystemMode
from policies.naming import parse_table_ref
from policies.roles import Role
from tests.pg import DB_PREFIX, CatalogUrls, PgRoles, _fresh_schema, fresh_database, sa_url

pytestmark = pytest.mark.postgres

REF = parse_table_ref("gold.revenue")
APPEND_ONLY = ["audit_log", "state_history", "system_modes"]
UPDATABLE = ["principals", "tables", "table_versions", "intents", "run_grants"]
TRUNCATE_GUARDED = [*APPEND_ONLY, "table_versions", "intents"]


@pytest.fixture
def catalog(pg_roles: PgRoles) -> Iterator[Catalog]:
    """A migrated catalog opened as the application role, with a row in every table."""
    c = Catalog(pg_roles.app_url, owner_url=pg_roles.owner_url)
    c.upgrade()
    c.check_ready()
    admin, _ = c.create_principal("ada", Role.ADMIN, created_by="bootstrap")
    c.ensure_table(REF)
    c.register_version(REF, 1, "gold__shadow.revenue__v1", 3, [{"name": "x"}], "h1")
    with c.transition(REF) as tx:
        tx.open_intent("promote", None, 1, "ada")
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")
        tx.audit("ada", "promote")
    c.set_mode(SystemMode.INGESTION_READY, "ada", None)
    c.grant_run(admin, "run-1")
    yield c
    c.dispose()


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(database_url(url), poolclass=sa.pool.NullPool)


@pytest.fixture
def owner(pg_roles: PgRoles) -> Iterator[sa.Engine]:
    engine = _engine(pg_roles.owner_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(pg_roles: PgRoles) -> Iterator[sa.Engine]:
    engine = _engine(pg_roles.app_url)
    yield engine
    engine.dispose()


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in [*APPEND_ONLY, *UPDATABLE]
        }


# --------------------------------------------------------------------------- the application role

APP_REFUSED = {
    "disable-trigger": "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "disable-all-triggers": "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "drop-trigger": "DROP TRIGGER audit_log_append_only ON audit_log",
    "replace-trigger-function": (
        "CREATE OR REPLACE FUNCTION spyne_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    ),
    "update-audit": "UPDATE audit_log SET actor = 'mallory'",
    "delete-audit": "DELETE FROM audit_log",
    "truncate-audit": "TRUNCATE audit_log",
    "update-history": "UPDATE state_history SET actor = 'mallory'",
    "delete-mode": "DELETE FROM system_modes",
    "delete-principal": "DELETE FROM principals",
    "delete-intent": "DELETE FROM intents",
    "delete-version": "DELETE FROM table_versions",
    "alter-table": "ALTER TABLE audit_log ADD COLUMN note text",
    "drop-table": "DROP TABLE audit_log",
    "rewind-schema": "UPDATE spyne_catalog_version SET version_num = '0001'",
    "grant-role": "GRANT {owner} TO {app}",
}


@pytest.mark.parametrize("statement", list(APP_REFUSED.values()), ids=list(APP_REFUSED))
def test_the_application_role_cannot_lift_the_guards_or_rewrite_history(
    catalog: Catalog, pg_roles: PgRoles, owner: sa.Engine, app: sa.Engine, statement: str
) -> None:
    before = snapshot(owner)
    sql = statement.format(owner=pg_roles.owner_role, app=pg_roles.app_role)
    with pytest.raises(sa.exc.DBAPIError) as refused, app.begin() as conn:
        conn.execute(sa.text(sql))
    assert getattr(refused.value.orig, "pgcode", None) == "42501", refused.value  # no privilege
    assert snapshot(owner) == before
    catalog.check_ready()  # every guard still in place
    assert catalog.verify_audit().ok


@pytest.mark.parametrize(
    "statement",
    [
        "GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO {app}",
        "GRANT ALL ON audit_log TO PUBLIC",
        "GRANT DELETE ON principals TO {app}",
        "GRANT TRIGGER ON intents TO {app}",
    ],
)
def test_the_application_role_cannot_grant_itself_or_anyone_more(
    catalog: Catalog, pg_roles: PgRoles, owner: sa.Engine, app: sa.Engine, statement: str
) -> None:
    """Without grant options PostgreSQL only warns ("no privileges were granted"): check the result."""
    sql = statement.format(app=pg_roles.app_role)
    try:
        with app.begin() as conn:
            conn.execute(sa.text(sql))
    except sa.exc.DBAPIError as exc:
        assert getattr(exc.orig, "pgcode", None) == "42501"
    with owner.connect() as conn:
        gained = conn.execute(
            sa.text(
                "SELECT c.relname, a.privilege_type, a.grantee FROM pg_class c, "
                "aclexplode(c.relacl) a WHERE c.relkind = 'r' AND a.grantor <> c.relowner "
                "AND c.relnamespace = to_regnamespace(current_schema())"
            )
        ).all()
    assert gained == []
    for table in APPEND_ONLY:
        assert not _may(owner, pg_roles.app_role, table, "UPDATE")
        assert not _may(owner, "public", table, "INSERT")


def _may(engine: sa.Engine, role: str, table: str, privilege: str) -> bool:
    with engine.connect() as conn:
        if role == "public":
            acl = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
                    "WHERE c.relname = :t AND a.grantee = 0 AND a.privilege_type = :p"
                ),
                {"t": table, "p": privilege},
            ).scalar_one()
            return bool(acl)
        return bool(
            conn.execute(
                sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                {"r": role, "t": table, "p": privilege},
            ).scalar_one()
        )


def test_the_application_role_holds_exactly_its_grants_and_owns_nothing(
    catalog: Catalog, pg_roles: PgRoles, owner: sa.Engine
) -> None:
    role = pg_roles.app_role
    for table in APPEND_ONLY:
        held = {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")}
        assert {p for p in held if _may(owner, role, table, p)} == {"SELECT", "INSERT"}, table
    for table in UPDATABLE:
        held = {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")}
        assert {p for p in held if _may(owner, role, table, p)} == {
            "SELECT",
            "INSERT",
            "UPDATE",
        }, table
    assert {
        p for p in ("SELECT", "UPDATE", "INSERT") if _may(owner, role, "spyne_catalog_version", p)
    } == {"SELECT"}
    with owner.connect() as conn:
        owned = conn.execute(
            sa.text(
                "SELECT 'relation ' || relname FROM pg_class WHERE relowner = to_regrole(:r) "
                "UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proowner = to_regrole(:r) "
                "UNION ALL SELECT 'schema ' || nspname FROM pg_namespace "
                "WHERE nspowner = to_regrole(:r)"
            ),
            {"r": role},
        ).all()
    assert owned == []


def test_the_application_role_does_everything_the_catalog_needs(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT current_user")).scalar_one() == catalog.engine.url.username
        )

    ben, _ = catalog.create_principal("ben", Role.ADMIN, created_by="ada")
    _viewer, viewer_key = catalog.create_principal("vic", Role.VIEWER, created_by="ada")
    catalog.register_version(REF, 2, "gold__shadow.revenue__v2", 4, [{"name": "x"}], "h2")
    catalog.record_gate(REF, 2, "passed", {"checks": 1}, actor="gate")
    catalog.record_drift(REF, 2, {"breaking": False})
    with catalog.transition(REF) as tx:
        intent = tx.open_intent("promote", 1, 2, "ada")
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 2, "ada")
        tx.close_intent(intent, IntentStatus.DONE, "view swapped")
        tx.audit("ada", "promote", details={"version": 2})
    (interrupted,) = catalog.pending_intents()
    catalog.settle_intent(interrupted, IntentStatus.UNDONE, "put back", "ada")
    assert catalog.pending_intents() == []
    token = catalog.grant_run(ben, "run-2", timedelta(minutes=5))
    assert catalog.resolve_run_grant(token, "run-2") == ben
    assert catalog.disable_principal("vic", actor="ada").disabled
    assert catalog.set_mode(SystemMode.READ_ONLY, "ada", "done").version == 2
    catalog.mark_dropped(REF, 1)
    catalog.audit("ada", "note", None, "recorded")

    assert catalog.get_table(REF).active_version == 2
    assert [p.name for p in catalog.list_principals() if p.disabled] == ["vic"]
    verdict = catalog.verify_audit()
    assert verdict.ok and verdict.checked == len(catalog.list_audit(limit=1000))
    catalog.check_ready()
    assert viewer_key  # shown once, never stored


def test_opening_the_catalog_as_its_owner_is_config_invalid(
    catalog: Catalog, pg_roles: PgRoles
) -> None:
    as_owner = Catalog(pg_roles.owner_url)
    try:
        with pytest.raises(ConfigError, match="SPYNE_CATALOG_OWNER_URL") as refused:
            as_owner.check_ready()
    finally:
        as_owner.dispose()
    assert refused.value.code == "config_invalid"
    assert refused.value.details == {"variable": "SPYNE_CATALOG_URL"}
    catalog.check_ready()  # the application role is fine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("what", ["app-password", "owner-password", "port"])
def test_a_wrong_password_or_an_unreachable_server_is_storage_unavailable(
    pg_roles: PgRoles, what: str
) -> None:
    app, owner = sa_url(pg_roles.app_url), sa_url(pg_roles.owner_url)
    if what == "app-password":
        app = app.set(password="not-the-password")
    elif what == "owner-password":
        owner = owner.set(password="not-the-password")
    else:
        port = _free_port()
        app, owner = app.set(port=port), owner.set(port=port)
    c = Catalog(app.render_as_string(False), owner_url=owner.render_as_string(False))
    try:
        with pytest.raises(StorageUnavailable) as refused:
            if what == "app-password" or what == "port":
                c.check_ready()
            else:
                c.upgrade()
    finally:
        c.dispose()
    assert refused.value.code == "storage_unavailable"
    assert "not-the-password" not in str(refused.value)


# --------------------------------------------------------------------------- the owner's guards


@pytest.mark.parametrize("table", TRUNCATE_GUARDED)
def test_truncate_is_refused_even_for_the_owner(
    catalog: Catalog, owner: sa.Engine, table: str
) -> None:
    before = count(owner, table)
    assert before > 0
    with pytest.raises(sa.exc.DBAPIError, match="TRUNCATE"), owner.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {table} CASCADE"))
    assert count(owner, table) == before


def test_public_holds_no_write_privileges_and_triggers_are_installed(
    catalog: Catalog, owner: sa.Engine
) -> None:
    with owner.connect() as conn:
        public_grants = conn.execute(
            sa.text(
                "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
                "WHERE c.relkind = 'r' AND a.grantee = 0 "
                "AND c.relnamespace = to_regnamespace(current_schema())"
            )
        ).all()
        triggers: set[str] = set(
            conn.execute(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
        )
    assert public_grants == []
    for table in APPEND_ONLY:
        assert {f"{table}_append_only", f"{table}_no_truncate"} <= triggers
    assert {"table_versions_immutable", "table_versions_no_truncate"} <= triggers
    assert {"intents_close_once", "intents_no_truncate"} <= triggers


def test_columns_use_native_types(catalog: Catalog) -> None:
    insp = sa.inspect(catalog.engine)
    audit = {c["name"]: c["type"] for c in insp.get_columns("audit_log")}
    versions = {c["name"]: c["type"] for c in insp.get_columns("table_versions")}
    assert getattr(audit["at"], "timezone", False) is True
    assert type(audit["details"]).__name__ == "JSONB"
    assert type(audit["seq"]).__name__ == "BIGINT"
    assert type(versions["row_count"]).__name__ == "BIGINT"
    fks = {fk["name"] for fk in insp.get_foreign_keys("tables")}
    assert "fk_tables_active_version" in fks


def test_active_version_must_be_registered(catalog: Catalog, owner: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), owner.begin() as conn:
        conn.execute(sa.text("UPDATE tables SET active_version = 42"))


# --------------------------------------------------------------------------- test databases


def test_each_test_gets_an_empty_database_of_its_own(pg_roles: PgRoles) -> None:
    for url in (pg_roles.owner_url, pg_roles.app_url):
        parsed = sa_url(url)
        assert (parsed.database or "").startswith(DB_PREFIX)
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    assert pg_roles.owner_role != pg_roles.app_role


def test_a_database_is_dropped_even_with_sessions_left_open(pg_server: PgRoles) -> None:
    with fresh_database(pg_server) as roles:
        leftover = sa.create_engine(sa_url(roles.app_url))
        leftover.connect()  # a failed test may leave the application role's session open
        name = sa_url(roles.owner_url).database
    owner = _engine(pg_server.owner_url)
    try:
        with owner.connect() as conn:
            left = conn.execute(
                sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
        assert left == 0
    finally:
        owner.dispose()
        leftover.dispose()


def test_schema_isolation_works_for_migrations_with_two_roles(pg_server: PgRoles) -> None:
    """The fallback used when the owner may not create databases."""
    admin = sa.create_engine(
        sa_url(pg_server.owner_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        with _fresh_schema(admin, pg_server, name) as roles:
            urls = CatalogUrls(roles.app_url, owner_url=roles.owner_url)
            c = Catalog(urls.url, owner_url=urls.owner_url)
            try:
                c.upgrade()
                c.upgrade()
                c.check_ready()
                c.audit("ada", "x", None, "recorded")
                assert "audit_log" in sa.inspect(c.engine).get_table_names(schema=name)
                with (
                    pytest.raises(sa.exc.DBAPIError, match="permission denied"),
                    c.engine.begin() as conn,
                ):
                    conn.execute(sa.text("DELETE FROM audit_log"))
            finally:
                c.dispose()
        with admin.connect() as conn:
            left: int = conn.execute(
                sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"), {"n": name}
            ).scalar_one()
        assert left == 0
    finally:
        admin.dispose()
