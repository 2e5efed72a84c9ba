"""dbt silver and gold end to end on real DuckDB: build, test, and reconcile with the source."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from orchestration.environment import DBT_PROJECT_DIR
from orchestration.sample import SOURCE_TABLES, generate, source_metrics
from orchestration.warehouse import DuckDBWarehouse
from policies.naming import Layer, TableRef

pytestmark = pytest.mark.slow

LINES = 4000
SEED = 11
SILVER = {"customers", "products", "sale_orders", "sale_order_lines", "invoices", "payments"}
GOLD = {"customer_revenue", "daily_sales", "open_invoices"}
# Accepted joins (models/joins): each dbt model version is its own table.
JOINS = {p.stem + "_v1" for p in (DBT_PROJECT_DIR / "models" / "joins").glob("jn_*.yml")}


@dataclass(frozen=True)
class Build:
    source: Path
    warehouse: Path
    tmp: Path
    results: tuple[dbtRunnerResult, ...]


def _load_bronze(source: Path, warehouse: Path) -> None:
    """What ingestion does: a verbatim TABLE copy of each source table into bronze."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("attach ? as erp (read_only)", [str(source)])
        con.execute("create schema bronze")
        for table in SOURCE_TABLES:
            con.execute(f"create table bronze.{table} as select * from erp.main.{table}")
        con.execute("detach erp")
    finally:
        con.close()


def _dbt(
    tmp: Path,
    warehouse: Path,
    *args: str,
    extra_vars: str = "",
    versions: Mapping[str, int] | None = None,
) -> dbtRunnerResult:
    """dbt as Spyne runs it: the versions it may build are allocated (here by the test)."""
    variables = "{" + extra_vars + "}"
    env = {
        "SPYNE_WAREHOUSE_PATH": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "SPYNE_DBT_VERSIONS": json.dumps(dict(versions or {})),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target",
                "local",
                "--target-path",
                str(tmp / "target"),
                "--log-path",
                str(tmp / "logs"),
                "--vars",
                variables,
            ]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _statuses(*results: dbtRunnerResult) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for result in results:
        assert result.result is not None, result.exception
        out.update(
            {r.node.unique_id: (r.node.resource_type, str(r.status)) for r in result.result.results}
        )
    return out


def _publish(warehouse: Path, layer: Layer, names: set[str], version: int) -> None:
    """What promotion does in the warehouse: point each canonical view at a version."""
    wh = DuckDBWarehouse(warehouse)
    for name in names:
        wh.swap_view(TableRef(layer, name), version)


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    # Same configuration as dbt-duckdb, which keeps its in-process handle on the file open.
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _one(warehouse: Path, sql: str) -> tuple[Any, ...]:
    rows = _query(warehouse, sql)
    assert len(rows) == 1
    return rows[0]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    tmp = tmp_path_factory.mktemp("dbt_models")
    source = generate(tmp / "erp.duckdb", lines=LINES, seed=SEED).path
    warehouse = tmp / "warehouse.duckdb"
    _load_bronze(source, warehouse)
    # Each layer builds new shadow versions; gold reads silver only once silver is published.
    silver = _dbt(
        tmp,
        warehouse,
        "build",
        "--select",
        "path:models/silver",
        "--indirect-selection",
        "buildable",
        versions={f"silver.{t}": 1 for t in SILVER},
    )
    _publish(warehouse, Layer.SILVER, SILVER, 1)
    joins = _dbt(
        tmp,
        warehouse,
        "build",
        "--select",
        "path:models/joins",
        "--indirect-selection",
        "buildable",
        versions={f"joins.{t}": 1 for t in JOINS},
    )
    _publish(warehouse, Layer.JOINS, JOINS, 1)
    gold = _dbt(
        tmp,
        warehouse,
        "build",
        "--select",
        "path:models/gold",
        "--indirect-selection",
        "buildable",
        versions={f"gold.{t}": 1 for t in GOLD},
    )
    _publish(warehouse, Layer.GOLD, GOLD, 1)
    return Build(source, warehouse, tmp, (silver, joins, gold))


def test_build_succeeds_and_every_test_passes(build: Build) -> None:
    statuses = _statuses(*build.results)
    assert all(r.success for r in build.results), [r.exception for r in build.results]
    # model.spyne.<name> or, for a dbt model version, model.spyne.<name>.v<N>
    models = {
        "_".join(uid.split(".")[2:]) for uid, (kind, _) in statuses.items() if kind == "model"
    }
    assert models == SILVER | JOINS | GOLD
    tests = [status for kind, status in statuses.values() if kind == "test"]
    assert len(tests) > 100
    assert set(tests) == {"pass"}
    assert {status for kind, status in statuses.values() if kind == "model"} == {"success"}


def test_models_land_as_versions_behind_canonical_views(build: Build) -> None:
    rows = _query(
        build.warehouse,
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema in ('silver', 'gold', 'silver__shadow', 'gold__shadow')",
    )
    assert {(s, t) for s, t, kind in rows if kind == "VIEW"} == {("silver", t) for t in SILVER} | {
        ("gold", t) for t in GOLD
    }
    assert {(s, t) for s, t, kind in rows if kind == "BASE TABLE"} == {
        ("silver__shadow", f"{t}__v1") for t in SILVER
    } | {("gold__shadow", f"{t}__v1") for t in GOLD}


def test_a_rebuild_writes_the_allocated_version_and_leaves_the_canonical_view_alone(
    build: Build,
) -> None:
    products = TableRef(Layer.SILVER, "products")
    before = _one(build.warehouse, "select count(*) from silver.products")
    again = _dbt(
        build.tmp, build.warehouse, "run", "--select", "products", versions={"silver.products": 7}
    )
    assert again.success, again.exception
    # the catalog's number, not max + 1 of what the warehouse holds
    assert DuckDBWarehouse(build.warehouse).versions(products) == [1, 7]
    assert DuckDBWarehouse(build.warehouse).view_version(products) == 1
    assert _one(build.warehouse, "select count(*) from silver.products") == before


def test_a_build_without_an_allocated_version_fails_naming_the_model(build: Build) -> None:
    """dbt run by hand, outside Spyne: no version number can be made up."""
    products = TableRef(Layer.SILVER, "products")
    held = DuckDBWarehouse(build.warehouse).versions(products)
    alone = _dbt(build.tmp, build.warehouse, "run", "--select", "products")
    assert not alone.success
    assert alone.result is not None
    (failed,) = [r for r in alone.result.results if r.node.resource_type == "model"]
    assert "no version was allocated for silver.products" in str(failed.message)
    assert DuckDBWarehouse(build.warehouse).versions(products) == held


def test_descriptions_reach_the_warehouse_as_comments_on_each_version(build: Build) -> None:
    """persist_docs, as dbt's table materialization does it, on the version table."""
    (table_comment,) = _one(
        build.warehouse,
        "select comment from duckdb_tables() "
        "where schema_name = 'silver__shadow' and table_name = 'customers__v1'",
    )
    assert table_comment.startswith("ERP partners that are customers")
    (column_comment,) = _one(
        build.warehouse,
        "select comment from duckdb_columns() where schema_name = 'silver__shadow' "
        "and table_name = 'customers__v1' and column_name = 'customer_id'",
    )
    assert column_comment == "Partner id in the ERP."


def test_silver_keeps_one_latest_row_per_id(build: Build) -> None:
    con = duckdb.connect(str(build.source), read_only=True)
    try:
        distinct = {
            table: con.execute(f"select count(distinct id) from main.{table}").fetchone()[0]
            for table in SOURCE_TABLES
        }
        customers = con.execute(
            "select count(*) from (select * from main.res_partner qualify row_number() "
            "over (partition by id order by write_date desc) = 1) where customer_rank > 0"
        ).fetchone()[0]
    finally:
        con.close()
    counts = {
        name: _one(build.warehouse, f"select count(*) from silver.{name}")[0] for name in SILVER
    }
    assert counts["sale_order_lines"] == distinct["sale_order_line"] == LINES
    assert counts["sale_orders"] == distinct["sale_order"]
    assert counts["products"] == distinct["product_product"]
    assert counts["invoices"] == distinct["account_move"]
    assert counts["payments"] == distinct["account_payment"]
    assert counts["customers"] == customers
    # The latest version wins: order totals equal the sum of their (latest) lines.
    (mismatched,) = _one(
        build.warehouse,
        """
        select count(*)
        from silver.sale_orders as o
        join (
            select order_id, sum(price_total) as total
            from silver.sale_order_lines group by order_id
        ) as l using (order_id)
        where o.amount_total <> l.total
        """,
    )
    assert mismatched == 0


def test_gold_reconciles_with_the_source(build: Build) -> None:
    expected = source_metrics(build.source)
    revenue = _one(
        build.warehouse,
        """
        select count(*), sum(invoiced_revenue), sum(paid_amount), sum(open_residual),
               sum(confirmed_order_count), sum(confirmed_order_revenue)
        from gold.customer_revenue
        """,
    )
    assert revenue == (
        expected["customers"],
        expected["invoiced_revenue"],
        expected["paid_amount"],
        expected["open_residual"],
        expected["confirmed_orders"],
        expected["confirmed_order_revenue"],
    )
    daily = _one(
        build.warehouse,
        "select count(*), sum(orders), sum(order_lines), sum(revenue_untaxed), sum(revenue_total) "
        "from gold.daily_sales",
    )
    assert daily == (
        expected["sales_days"],
        expected["confirmed_orders"],
        expected["confirmed_order_lines"],
        expected["confirmed_order_revenue_untaxed"],
        expected["confirmed_order_revenue"],
    )
    open_invoices = _one(
        build.warehouse, "select count(*), sum(amount_residual) from gold.open_invoices"
    )
    assert open_invoices == (expected["open_invoices"], expected["open_residual"])
    assert all(isinstance(expected[k], Decimal) for k in ("invoiced_revenue", "open_residual"))


def test_open_invoices_default_as_of_is_the_latest_invoice_date(build: Build) -> None:
    (latest,) = _one(build.warehouse, "select max(invoice_date) from silver.invoices")
    rows = _query(
        build.warehouse,
        "select distinct as_of_date from gold.open_invoices",
    )
    assert rows == [(latest,)]
    (wrong,) = _one(
        build.warehouse,
        """
        select count(*) from gold.open_invoices
        where days_overdue <> greatest(as_of_date - coalesce(due_date, invoice_date), 0)
           or is_overdue <> (days_overdue > 0)
        """,
    )
    assert wrong == 0


def test_open_invoices_as_of_var_is_honoured_and_validated(build: Build) -> None:
    # `dbt show` runs the model's query without writing it, so the build stays untouched.
    shown = _dbt(
        build.tmp,
        build.warehouse,
        "show",
        "--select",
        "open_invoices",
        "--limit",
        "50",
        extra_vars="as_of_date: '2026-05-31'",
    )
    assert shown.success, shown.exception
    assert shown.result is not None
    preview = shown.result.results[0].agate_table
    assert len(preview.rows) > 0
    assert {row["as_of_date"] for row in preview.rows} == {date(2026, 5, 31)}

    injected = _dbt(
        build.tmp,
        build.warehouse,
        "show",
        "--select",
        "open_invoices",
        extra_vars='as_of_date: "2026-05-31\' as date) as as_of_date --"',
    )
    assert not injected.success
