"""The sample ERP in a real PostgreSQL database: the same tables as the DuckDB file, written in
one transaction, and landed in bronze with the same content as from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.lifecycle.service import TableService
from orchestration.sample.generator import SOURCE_TABLES, generate, generate_postgres
from orchestration.sources import PostgresSource, read_source_rows
from orchestration.sources.postgres import connection
from policies.errors import ApprovalRequired, NotFound, StorageUnavailable
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Role
from tests.pg import PgRoles
from tests.warehouse_support import KINDS, adapter

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_source(pg_roles: PgRoles) -> PostgresSource:
    return PostgresSource(pg_roles.owner_url)


def test_postgres_sample_equals_the_duckdb_file(pg_source: PostgresSource, tmp_path: Path) -> None:
    summary = generate_postgres(pg_source, lines=400, seed=7)
    file = tmp_path / "erp.duckdb"
    generate(file, lines=400, seed=7)
    for table in SOURCE_TABLES:
        in_pg, in_file = read_source_rows(pg_source, table), read_source_rows(file, table)
        assert in_pg.schema == in_file.schema, table
        assert in_pg.sort_by([("id", "ascending"), ("write_date", "ascending")]).equals(
            in_file.sort_by([("id", "ascending"), ("write_date", "ascending")])
        ), table
        assert summary.row_counts[table] == in_pg.num_rows
    assert "spyne:" not in str(summary.path) or "***" in str(summary.path)


def test_an_existing_source_is_refused_then_replaced_when_asked(pg_source: PostgresSource) -> None:
    generate_postgres(pg_source, lines=100, seed=1)
    before = read_source_rows(pg_source, "sale_order_line")
    with pytest.raises(ApprovalRequired) as refused:
        generate_postgres(pg_source, lines=300, seed=2)
    assert refused.value.details["flag"] == "--force"
    assert read_source_rows(pg_source, "sale_order_line").equals(before)
    generate_postgres(pg_source, lines=300, seed=2, overwrite=True)
    assert read_source_rows(pg_source, "sale_order_line").num_rows > before.num_rows


def test_a_failed_write_leaves_the_previous_source(
    pg_source: PostgresSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_postgres(pg_source, lines=100, seed=1)
    before = {t: read_source_rows(pg_source, t) for t in SOURCE_TABLES}
    import orchestration.sample.postgres as writer

    real_copy = writer.copy_in
    calls = []

    def failing_copy(cur: object, schema: str, name: str, rows: object) -> None:
        calls.append(name)
        if name == "account_move":
            raise RuntimeError("the connection dropped")
        real_copy(cur, schema, name, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "copy_in", failing_copy)
    with pytest.raises(RuntimeError):
        generate_postgres(pg_source, lines=300, seed=2, overwrite=True)
    assert "sale_order" in calls
    for table in SOURCE_TABLES:
        assert read_source_rows(pg_source, table).equals(before[table]), table


def test_missing_tables_and_unreachable_servers_are_typed(pg_source: PostgresSource) -> None:
    with pytest.raises(NotFound):
        read_source_rows(pg_source, "sale_order")
    unreachable = PostgresSource("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(StorageUnavailable) as refused, connection(unreachable):
        pass
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("kind", KINDS)
def test_bronze_from_postgres_equals_bronze_from_the_file(
    kind: str, pg_source: PostgresSource, tmp_path: Path
) -> None:
    generate_postgres(pg_source, lines=300, seed=3)
    file = tmp_path / "erp.duckdb"
    generate(file, lines=300, seed=3)
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    used = adapter(kind, tmp_path, catalog.engine)
    svc = TableService(catalog, used.warehouse, PublishingPolicy(retention_hours=24))
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    try:
        for table in ("sale_order", "account_move"):
            _, from_pg = svc.ingest(
                Actor(admin), TableRef(Layer.BRONZE, table), pg_source, table, None
            )
            _, from_file = svc.ingest(
                Actor(admin), TableRef(Layer.BRONZE, table), file, table, None
            )
            assert from_pg.row_count == from_file.row_count > 0
            assert from_pg.schema == from_file.schema
            assert from_pg.content_hash == from_file.content_hash, table
    finally:
        catalog.dispose()
