"""Every statement Spyne generates: its BigQuery text is golden and parses back unchanged, and
the DuckDB rendering of the same catalogue runs, in order, on a real DuckDB file.

Regenerate the golden files after a deliberate change with ``SPYNE_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from orchestration.warehouse.catalogue import SAMPLE_REF, SAMPLE_ROWS, catalogue
from orchestration.warehouse.reading import version_in_view_sql
from orchestration.warehouse.statements import Dialect, Statements

GOLDEN = Path(__file__).parent / "golden" / "bigquery"
BIGQUERY = Statements(Dialect.BIGQUERY, project="acme-data", region="eu")
DUCKDB = Statements(Dialect.DUCKDB)
ENTRIES = catalogue(BIGQUERY)


def _text(statements: list[Any]) -> str:
    return ";\n".join(BIGQUERY.render(s) for s in statements) + ";\n"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_bigquery_text_is_golden_and_parses_back_unchanged(name: str) -> None:
    statements = ENTRIES[name]
    for statement in statements:
        sql = BIGQUERY.render(statement)
        again = sqlglot.parse_one(sql, read="bigquery").sql(dialect="bigquery")
        assert again == sql, f"{name}: BigQuery re-renders it as\n{again}"
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("SPYNE_UPDATE_GOLDEN") == "1":
        path.write_text(_text(statements), encoding="utf-8")
    assert path.is_file(), f"no golden file {path}; run with SPYNE_UPDATE_GOLDEN=1"
    assert _text(statements) == path.read_text(encoding="utf-8")


def test_every_golden_file_is_a_statement_spyne_generates() -> None:
    assert {p.stem for p in GOLDEN.glob("*.sql")} == set(ENTRIES)


def test_the_catalogue_uses_every_statement_builder() -> None:
    """A builder added to Statements but left out of the catalogue would have no golden text."""
    used: set[str] = set()

    class Recording(Statements):
        def __getattribute__(self, name: str) -> Any:
            used.add(name)
            return super().__getattribute__(name)

    for dialect in Dialect:
        catalogue(Recording(dialect, project="p" if dialect == Dialect.BIGQUERY else None))
    builders = {
        name
        for name, member in inspect.getmembers(Statements, inspect.isfunction)
        if not name.startswith("_") and name not in {"render", "table"}
    }
    assert builders - used == set()


def test_bigquery_never_gets_a_duckdb_only_statement() -> None:
    for name, statements in ENTRIES.items():
        for statement in statements:
            sql = BIGQUERY.render(statement)
            for word in ("ATTACH", "DETACH", "COMMENT ON", "HUGEINT", "INT128", "INSERT"):
                if word == "INSERT" and isinstance(statement, exp.Merge):
                    continue  # a MERGE's WHEN NOT MATCHED THEN INSERT is BigQuery's own
                assert word not in sql.upper(), (name, sql)


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    source = tmp_path / "erp_source.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("create table kpis as select range as day, range * 1.5 as amount from range(4)")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema gold__shadow")
    con.execute(
        "create table gold__shadow.kpis__v2 as select range as day, "
        "case when range = 2 then null else range * 2.5 end as amount, 'n' as note from range(5)"
    )
    con.execute("comment on table gold__shadow.kpis__v2 is 'Daily KPIs: one row per day'")
    con.register(SAMPLE_ROWS, pa.table({"day": [9], "amount": [1.0], "note": ["appended"]}))
    return con


def test_the_duckdb_statements_run_in_order_on_a_real_duckdb(
    duckdb_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con = duckdb_warehouse
    results: dict[str, list[Any]] = {}
    described: list[Any] = []
    for name, statements in catalogue(DUCKDB, str(tmp_path / "erp_source.duckdb")).items():
        for statement in statements:
            results[name] = con.execute(DUCKDB.render(statement)).fetchall()
        if name == "create_or_replace_view_described":
            described = con.execute(
                "select comment from duckdb_views() where schema_name = 'gold' and view_name = 'kpis'"
                " union all select comment from duckdb_columns() where schema_name = 'gold' "
                "and table_name = 'kpis' and comment is not null"
            ).fetchall()

    assert results["list_versions"] == [("kpis__v2",), ("kpis__v3",), ("kpis__v4",)]
    assert [r[0] for r in results["list_columns"]] == ["day", "amount", "note"]
    assert results["list_datasets"] == [("gold",), ("gold__shadow",)]
    assert ("gold__shadow", "kpis__v4") in results["list_all_versions"]
    ((schema, view, definition),) = results["view_of_table"]
    assert (schema, view) == ("gold", "kpis")
    assert version_in_view_sql(str(definition), SAMPLE_REF, "duckdb") == 3
    ((rows, row_hash),) = results["content_hash"]
    assert rows == 4 and isinstance(row_hash, int), "v3 keeps the 4 rows with an amount"
    assert results["count_rows"] == [(4,)], "the canonical view shows v3"
    assert con.execute("select count(*) from gold__shadow.kpis__v5").fetchone() == (4,)
    assert described == [
        ("Daily KPIs: one row per day",),
        ("The day (UTC)",),
        ("Amount in EUR, 'VAT' included;\nrounded to cents",),
    ]
    # after drop_view and drop_version (the last two entries): v4 and the view are gone
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert tables == {"kpis__v2", "kpis__v3", "kpis__v5"}
    views = "select count(*) from duckdb_views() where schema_name = 'gold'"
    assert con.execute(views).fetchone() == (0,)


def test_content_hash_is_order_independent_and_counts_duplicates(
    duckdb_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    con = duckdb_warehouse
    con.execute(
        "create table gold__shadow.kpis__v7 as select * from gold__shadow.kpis__v2 order by day desc"
    )
    con.execute(
        "create table gold__shadow.kpis__v8 as select * from gold__shadow.kpis__v2 "
        "union all select * from gold__shadow.kpis__v2 where day = 1"
    )

    def digest(version: int) -> tuple[Any, ...]:
        row = con.execute(DUCKDB.render(DUCKDB.content_hash(SAMPLE_REF, version))).fetchone()
        assert row is not None
        return tuple(row)

    assert digest(2) == digest(7)
    assert digest(8)[1] != digest(2)[1]
