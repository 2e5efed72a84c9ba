"""What a contract's semantics cost on DuckDB, beside a raw insert of the same batch.

A bronze version of ``--rows`` rows (and one of twice as many) receives a batch of ``--batch``
rows, half updates of existing keys and half new keys, under an upsert contract. Measured side by
side in one process, alternating, medians of ``--repeat``: the raw ``INSERT`` of the batch into a
plain table; the accepted rows (what enters bronze: the batch deduplicated and compared with the
previous version); the ``MERGE`` of them into a copy of the previous version (the copy itself is
not timed: on BigQuery it is a zero-copy clone). Prints a table and, as its last line, JSON with
the timings and the ratios to the raw insert, and how the accepted rows grow with the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta

import duckdb
from sqlglot import exp

from orchestration.ingestion.semantics_sql import Semantics, plan_batch, relation
from policies.contracts import ConflictResolution, IngestMode

SEMANTICS = Semantics(
    "bench",
    ("id", "v", "t"),
    ("id",),
    "t",
    "_spyne_loaded_at",
    IngestMode.UPSERT,
    timedelta(hours=24),
    ConflictResolution.LATEST_WINS,
)


def _range(n: int, *columns: str) -> exp.Select:
    """Fixed benchmark rows over DuckDB's range(), built with sqlglot."""
    return exp.select(*columns, dialect="duckdb").from_(
        exp.Table(this=exp.func("range", exp.Literal.number(n)))
    )


def _create(table: exp.Table, select: exp.Select) -> str:
    return exp.Create(this=table, kind="TABLE", replace=True, expression=select).sql("duckdb")


def _setup(con: duckdb.DuckDBPyConnection, rows: int, batch: int) -> None:
    con.execute("create schema if not exists landing; create schema if not exists bronze__shadow")
    loaded = exp.alias_(exp.cast(exp.Literal.string("2026-01-02"), "timestamp"), "_spyne_loaded_at")
    con.execute(
        _create(
            exp.table_("v1", db="bronze__shadow"),
            _range(
                rows,
                "range::bigint as id",
                "'x' || range as v",
                "timestamp '2026-01-01' + to_seconds(range % 86400) as t",
            ).select(loaded),
        )
    )
    first = exp.Add(this=exp.column("range"), expression=exp.Literal.number(rows - batch // 2))
    con.execute(
        _create(
            exp.table_("batch", db="landing"),
            _range(batch).select(
                exp.alias_(exp.cast(exp.paren(first), "bigint"), "id"),
                "'y' || range as v",
                "timestamp '2026-02-01' as t",
            ),
        )
    )


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - start


def measure(rows: int, batch: int, repeat: int) -> dict[str, float]:
    con = duckdb.connect()
    _setup(con, rows, batch)
    plan = plan_batch(
        SEMANTICS,
        relation("batch", "landing"),
        relation("v1", "bronze__shadow"),
        datetime(2026, 3, 1),
        relation("v2", "bronze__shadow"),
    )
    samples: dict[str, list[float]] = {"raw_insert": [], "accepted": [], "merge": []}
    for _ in range(repeat):
        con.execute("create or replace table plain (id bigint, v varchar, t timestamp)")
        samples["raw_insert"].append(_timed(con, "insert into plain select * from landing.batch"))
        samples["accepted"].append(_timed(con, _create(exp.table_("accepted"), plan.accepted)))
        con.execute("create or replace table bronze__shadow.v2 as select * from bronze__shadow.v1")
        samples["merge"].append(_timed(con, plan.merge.sql("duckdb")))
    con.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {size: measure(size, args.batch, args.repeat) for size in (args.rows, 2 * args.rows)}
    print(f"{'bronze rows':>12} {'raw insert':>11} {'accepted':>9} {'merge':>8}")
    for size, r in results.items():
        print(f"{size:>12,} {r['raw_insert']:>10.2f}s {r['accepted']:>8.2f}s {r['merge']:>7.2f}s")
    base, double = results[args.rows], results[2 * args.rows]
    summary = {
        "batch": args.batch,
        "rows": args.rows,
        "timings_s": {str(size): r for size, r in results.items()},
        "accepted_vs_raw_insert": base["accepted"] / base["raw_insert"],
        "merge_vs_raw_insert": base["merge"] / base["raw_insert"],
        "accepted_at_2x_rows_vs_1x": double["accepted"] / base["accepted"],
        "merge_at_2x_rows_vs_1x": double["merge"] / base["merge"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
