"""Gate cost benchmark: the standard GE suite vs one hand-written DuckDB scan, same checks.

The promotion gate must stay cheap enough to run on every build, so the target is that
validating a 5,000,000-row shadow table with GE costs at most 2x a single hand-written
aggregate query computing the same checks. Both run in this process on the same file,
alternating, after one warm-up each; the medians are compared. For context it also times
the stock uniqueness expectation (``expect_column_values_to_be_unique``) and the extra
cost of rendering Data Docs, neither of which counts towards the ratio.

Usage: ``.venv/bin/python bench/gate.py [--rows 5000000] [--runs 5]``. The last line of
output is JSON: ``{"rows", "ge_seconds", "scan_seconds", "ratio", "target"}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import duckdb  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import sqlglot  # noqa: E402
from great_expectations.core.expectation_suite import ExpectationSuite  # noqa: E402
from sqlglot import exp  # noqa: E402

from orchestration.gates.results import GateResult  # noqa: E402
from orchestration.gates.runner import run_gate  # noqa: E402
from orchestration.gates.suites import (  # noqa: E402
    MIN_ROWS_PARAMETER,
    UNIQUENESS_EXPECTATION,
    suite_from_dbt_node,
)

TARGET = 2.0
SCHEMA = "silver__shadow"
TABLE = "orders__v1"
STATUSES = ("new", "paid", "shipped", "cancelled")
AMOUNT_MIN, AMOUNT_MAX = 0, 1000


def build_table(path: Path, rows: int) -> None:
    """Clean data (every check passes): a gate's common case is a passing build."""
    body = sqlglot.parse_one(
        """
        SELECT range AS id,
               (range * 7919) % 100000 AS customer_id,
               CAST(((range * 31) % 100000) / 100.0 AS DECIMAL(18, 2)) AS amount,
               ['new', 'paid', 'shipped', 'cancelled'][1 + range % 4] AS status,
               TIMESTAMP '2024-01-01' + to_seconds(range) AS created_at
        FROM range(?)
        """,
        read="duckdb",
    )
    create_schema = exp.Create(
        this=exp.Table(this=exp.to_identifier(SCHEMA, quoted=True)), kind="SCHEMA"
    )
    create_table = exp.Create(
        this=exp.table_(TABLE, db=SCHEMA, quoted=True), kind="TABLE", expression=body
    )
    connection = duckdb.connect(str(path))
    try:
        connection.execute(create_schema.sql(dialect="duckdb"))
        connection.execute(create_table.sql(dialect="duckdb"), [rows])
    finally:
        connection.close()


def standard_suite(*, stock_uniqueness: bool = False) -> ExpectationSuite:
    """What ``spyne gates generate`` emits for this model, plus one hand-added range check."""
    node = {
        "unique_id": "model.spyne.orders",
        "resource_type": "model",
        "name": "orders",
        "fqn": ["spyne", "silver", "orders"],
        "columns": {
            "id": {"name": "id", "data_type": "bigint", "data_tests": ["not_null", "unique"]},
            "customer_id": {
                "name": "customer_id",
                "data_type": "bigint",
                "data_tests": ["not_null"],
            },
            "amount": {"name": "amount", "data_type": "decimal(18,2)"},
            "status": {
                "name": "status",
                "data_type": "varchar",
                "data_tests": [{"accepted_values": {"values": list(STATUSES)}}],
            },
            "created_at": {"name": "created_at", "data_type": "timestamp"},
        },
    }
    generated = suite_from_dbt_node(node)
    expectations = [
        gxe.ExpectColumnValuesToBeUnique(column="id")
        if stock_uniqueness and e.configuration.type == UNIQUENESS_EXPECTATION
        else e
        for e in generated.expectations
    ]
    expectations.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="amount", min_value=AMOUNT_MIN, max_value=AMOUNT_MAX
        )
    )
    return ExpectationSuite(name=generated.name, expectations=expectations, meta=generated.meta)


def scan_sql() -> str:
    """The same checks as the suite, in one aggregate pass (plus the catalog's column list)."""
    table = exp.table_(TABLE, db=SCHEMA, quoted=True)

    def col(name: str) -> exp.Column:
        return exp.column(name, quoted=True)

    def count_where(condition: exp.Expression) -> exp.Expression:
        return exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=condition))

    columns = (
        exp.select(exp.func("LIST", exp.column("column_name")))
        .from_(exp.func("duckdb_columns"))
        .where(exp.column("schema_name").eq(exp.Literal.string(SCHEMA)))
        .where(exp.column("table_name").eq(exp.Literal.string(TABLE)))
    )
    status_ok = exp.In(this=col("status"), expressions=[exp.Literal.string(s) for s in STATUSES])
    amount_ok = exp.Between(
        this=col("amount"), low=exp.Literal.number(AMOUNT_MIN), high=exp.Literal.number(AMOUNT_MAX)
    )
    return (
        exp.select(
            exp.alias_(exp.Count(this=exp.Star()), "row_count"),
            exp.alias_(count_where(col("id").is_(exp.Null())), "id_nulls"),
            exp.alias_(count_where(col("customer_id").is_(exp.Null())), "customer_id_nulls"),
            exp.alias_(
                exp.Sub(
                    this=exp.Count(this=col("id")),
                    expression=exp.Count(this=exp.Distinct(expressions=[col("id")])),
                ),
                "id_duplicates",
            ),
            exp.alias_(count_where(exp.Not(this=amount_ok)), "amount_out_of_range"),
            exp.alias_(count_where(exp.Not(this=status_ok)), "status_not_in_set"),
            exp.alias_(exp.Subquery(this=columns), "columns"),
        )
        .from_(table)
        .sql(dialect="duckdb")
    )


def hand_scan(path: Path, sql: str) -> tuple[Any, ...]:
    connection = duckdb.connect(str(path))
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    assert row is not None
    return tuple(row)


class StatementCounter:
    """Counts SQL statements sent by any SQLAlchemy engine (GE's) while active."""

    def __init__(self) -> None:
        self.count = 0

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._on_execute)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant (median)")
    parser.add_argument(
        "--skip-stock", action="store_true", help="skip the stock-uniqueness reference"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="spyne-bench-gate-") as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        build_seconds, _ = timed(lambda: build_table(path, args.rows))
        suite = standard_suite()
        stock_suite = standard_suite(stock_uniqueness=True)
        sql = scan_sql()

        # As if the ACTIVE version had as many rows and the policy allowed half to go.
        parameters = {MIN_ROWS_PARAMETER: args.rows // 2}

        def gate(s: ExpectationSuite, docs: Path | None = None) -> GateResult:
            result = run_gate(path, SCHEMA, TABLE, s, parameters=parameters, data_docs_dir=docs)
            if not result.success:
                raise SystemExit(f"benchmark suite failed unexpectedly: {result.message}")
            return result

        with StatementCounter() as counter:
            gate(suite)  # warm-up (imports, OS page cache), counting GE's statements
        statements = counter.count
        hand_scan(path, sql)
        ge_times: list[float] = []
        scan_times: list[float] = []
        stock_times: list[float] = []
        docs_times: list[float] = []
        # Variants alternate within each round so a noisy neighbour slows all of them alike.
        for _ in range(args.runs):
            ge_times.append(timed(lambda: gate(suite))[0])
            scan_times.append(timed(lambda: hand_scan(path, sql))[0])
            if not args.skip_stock:
                stock_times.append(timed(lambda: gate(stock_suite))[0])
            docs_times.append(timed(lambda: gate(suite, Path(tmp) / "docs"))[0])

    ge = statistics.median(ge_times)
    scan = statistics.median(scan_times)
    ratio = ge / scan
    rows: list[tuple[str, str, str]] = [
        ("table build (once)", f"{build_seconds:.3f}", ""),
        (
            f"GE suite, {len(suite.expectations)} expectations ({statements} SQL statements)",
            f"{ge:.3f}",
            f"{ratio:.2f}x",
        ),
        ("hand-written aggregate scan (1 statement)", f"{scan:.3f}", "1.00x"),
    ]
    if stock_times:
        stock = statistics.median(stock_times)
        rows.append(
            (
                "  reference: stock expect_column_values_to_be_unique",
                f"{stock:.3f}",
                f"{stock / scan:.2f}x",
            )
        )
    docs = statistics.median(docs_times)
    rows.append(("  reference: GE suite + Data Docs build", f"{docs:.3f}", f"{docs / scan:.2f}x"))

    width = max(len(r[0]) for r in rows)
    print(
        f"gate benchmark: {args.rows:,} rows, median of {args.runs} runs, target <= {TARGET:.1f}x"
    )
    print(f"{'variant'.ljust(width)}  {'seconds':>8}  {'vs scan':>8}")
    for label, seconds, relative in rows:
        print(f"{label.ljust(width)}  {seconds:>8}  {relative:>8}")
    print(f"{'met' if ratio <= TARGET else 'MISSED'}: GE/scan = {ratio:.2f} (target {TARGET:.1f})")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "ge_seconds": round(ge, 4),
                "scan_seconds": round(scan, 4),
                "ratio": round(ratio, 3),
                "target": TARGET,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
