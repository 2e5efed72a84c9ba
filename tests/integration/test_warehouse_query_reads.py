"""Ad-hoc reads through the warehouse interface, on both adapters: column names, a row cap, the
planner's estimate (DuckDB), the dry run's bytes (BigQuery); and DuckDB's own refusal of files
on the query connection, whatever the SQL gate did."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.warehouse import DuckDBWarehouse
from orchestration.warehouse.duckdb_warehouse import estimated_cardinality
from policies.errors import ValidationFailed
from policies.naming import Layer, TableRef
from tests.warehouse_support import KINDS, PROJECT, adapter

REF = TableRef(Layer.GOLD, "orders")


def _query(sql: str, dialect: str) -> exp.Query:
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Query)
    return tree


@pytest.mark.parametrize("kind", KINDS)
def test_read_returns_named_columns_and_caps_rows(kind: str, tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    used = adapter(kind, tmp_path, catalog.engine)
    wh = used.warehouse
    wh.create_version_from_rows(REF, 1, pa.table({"id": list(range(10)), "amount": [1.5] * 10}))
    table = (
        f"`{PROJECT}.gold__shadow.orders__v1`" if kind == "bigquery" else "gold__shadow.orders__v1"
    )
    # (the fake BigQuery client reads plain projections only)
    result = wh.read(_query(f"SELECT id, amount FROM {table}", wh.dialect), max_rows=4)
    assert result.columns == ("id", "amount")
    assert len(result.rows) == 4 and result.truncated
    assert all(r[1] == 1.5 for r in result.rows)
    estimate = wh.estimate_rows(_query(f"SELECT id FROM {table}", wh.dialect))
    if kind == "duckdb":
        assert result.bytes_scanned is None
        assert estimate is not None and estimate.result == 10
    else:
        assert result.bytes_scanned is not None and result.bytes_scanned > 0
        assert estimate is None
        assert used.fake is not None
        assert [r.labels["action"] for r in used.fake.queries()][-2:] == ["query", "query"]
    with pytest.raises(ValidationFailed):
        wh.read(exp.delete("gold__shadow.orders__v1"), max_rows=1)  # type: ignore[arg-type]
    catalog.dispose()


def test_the_duckdb_query_connection_cannot_reach_files(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    wh.create()
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n", encoding="utf-8")
    query = _query(f"SELECT * FROM read_csv('{secret}')", "duckdb")
    with pytest.raises(duckdb.PermissionException):
        wh.read(query, max_rows=10)


def test_plan_estimates_read_the_result_and_the_largest_step() -> None:
    plan = (
        '[{"name": "AGGREGATE", "children": [{"name": "HASH_JOIN", "extra_info": '
        '{"Estimated Cardinality": "800"}, "children": [{"name": "SEQ_SCAN", "extra_info": '
        '{"Estimated Cardinality": "40"}, "children": []}]}]}]'
    )
    found = estimated_cardinality(plan)
    assert found is not None and (found.result, found.peak) == (800, 800)
    assert estimated_cardinality('[{"name": "X", "children": []}]') is None
