"""What only PostgreSQL has: TRUNCATE, grants, typed columns, per-test databases and schemas."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog, database_url
from policies.lifecycle import TableState, Transition
from policies.modes import SystemMode
from policies.naming import parse_table_ref
from tests.pg import DB_PREFIX, _fresh_schema, sa_url

pytestmark = pytest.mark.postgres

REF = parse_table_ref("gold.revenue")
GUARDED = ["audit_log", "state_history", "system_modes", "table_versions"]


@pytest.fixture
def catalog(pg_url: str) -> Iterator[Catalog]:
    c = Catalog(pg_url)
    c.upgrade()
    c.ensure_table(REF)
    c.register_version(REF, 1, "gold__shadow.revenue__v1", 3, [{"name": "x"}], "h1")
    with c.transition(REF) as tx:
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")
        tx.audit("ada", "promote")
    c.set_mode(SystemMode.INGESTION_READY, "ada", None)
    yield c
    c.dispose()


@pytest.fixture
def raw(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url(pg_url), poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize("table", GUARDED)
def test_truncate_is_refused(catalog: Catalog, raw: sa.Engine, table: str) -> None:
    before = count(raw, table)
    assert before > 0
    with pytest.raises(sa.exc.DBAPIError, match="TRUNCATE"), raw.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {table} CASCADE"))
    assert count(raw, table) == before


def test_public_holds_no_write_privileges_and_triggers_are_installed(
    catalog: Catalog, raw: sa.Engine
) -> None:
    with raw.connect() as conn:
        public_grants = conn.execute(
            sa.text(
                "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
                "WHERE c.relname IN ('audit_log', 'state_history', 'system_modes') "
                "AND a.grantee = 0"
            )
        ).all()
        triggers: set[str] = set(
            conn.execute(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
        )
    assert public_grants == []
    for table in ("audit_log", "state_history", "system_modes"):
        assert {f"{table}_append_only", f"{table}_no_truncate"} <= triggers
    assert {"table_versions_immutable", "table_versions_no_truncate"} <= triggers


def test_columns_use_native_types(catalog: Catalog) -> None:
    insp = sa.inspect(catalog.engine)
    audit = {c["name"]: c["type"] for c in insp.get_columns("audit_log")}
    versions = {c["name"]: c["type"] for c in insp.get_columns("table_versions")}
    assert getattr(audit["at"], "timezone", False) is True
    assert type(audit["details"]).__name__ == "JSONB"
    assert type(versions["row_count"]).__name__ == "BIGINT"
    fks = {fk["name"] for fk in insp.get_foreign_keys("tables")}
    assert "fk_tables_active_version" in fks


def test_active_version_must_be_registered(catalog: Catalog, raw: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), raw.begin() as conn:
        conn.execute(sa.text("UPDATE tables SET active_version = 42"))


def test_each_test_gets_an_empty_database_of_its_own(pg_url: str) -> None:
    url = sa_url(pg_url)
    assert (url.database or "").startswith(DB_PREFIX)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_schema_isolation_works_for_migrations(pg_server_url: str) -> None:
    """The fallback used when the test role may not create databases."""
    base = sa_url(pg_server_url)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        with _fresh_schema(admin, base, name) as url:
            c = Catalog(url)
            try:
                c.upgrade()
                c.upgrade()
                c.audit("ada", "x", None, "recorded")
                assert "audit_log" in sa.inspect(c.engine).get_table_names(schema=name)
                with (
                    pytest.raises(sa.exc.DBAPIError, match="append-only"),
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
