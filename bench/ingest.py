"""An upsert's cost grows with the batch, not with the table: measured side by side.

In a temporary DuckDB warehouse, two bronze tables hold 10,000,000 and 20,000,000 rows (one
row per key, an event time and six payload columns). A batch of 1,000,000 rows (half new
keys, half updates of existing keys with a later event time) is upserted into each as a new
version, through ``Warehouse.upsert_version`` (one segment, a merge view and the version's
recorded count and content hash), and inserted raw into a plain table (``INSERT INTO plain
SELECT * FROM batch``), alternating, medians; the two upserts take turns going first. Also
shown, not targeted: reading the new version's manifest (what register_build records), reading
all its rows, compacting it, and what a version built by copying the whole table costs. Last
line: JSON with timings and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from orchestration.warehouse import DuckDBWarehouse
from orchestration.warehouse.duckdb_upserts import upsert
from orchestration.warehouse.upserts import UpsertKeys
from policies.naming import Layer, TableRef

KEYS = UpsertKeys(("id",), "event_time")
COLUMNS = (
    "id",
    "timestamp '2026-01-01' + to_seconds(id % 1000000) as event_time",
    "id % 97 as customer_id",
    "(id * 7) % 1000 as quantity",
    "'product-' || (id % 5000) as product",
    "((id % 100000) / 100)::decimal(18, 2) as amount",
    "id % 3 = 0 as paid",
    "'s' || (id % 13) as status",
)


def rows_sql(start: int, stop: int, step: int = 1, later: bool = False) -> exp.Select:
    """Fixed benchmark rows over DuckDB's range(), built with sqlglot."""
    source = exp.Table(
        this=exp.func("range", *(exp.Literal.number(n) for n in (start, stop, step))),
        alias=exp.TableAlias(this=exp.to_identifier("r"), columns=[exp.to_identifier("id")]),
    )
    select = exp.select(*COLUMNS, dialect="duckdb").from_(source)
    if not later:
        return select
    shifted = exp.alias_(
        exp.Add(
            this=exp.column("event_time"),
            expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")),
        ),
        "event_time",
    )
    return exp.select(exp.Star(replace=[shifted])).from_(select.subquery())


def batch_rows(existing: int, size: int) -> pa.Table:
    """Half updates spread over the existing keys, half new keys."""
    half = size // 2
    with duckdb.connect() as con:
        updates = rows_sql(0, existing, max(1, existing // half), later=True)
        new = rows_sql(existing, existing + size - half)
        both = exp.union(exp.select("*").from_(updates.limit(half).subquery()), new, distinct=False)
        return con.sql(both.sql("duckdb")).to_arrow_table()


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def build_base(warehouse: DuckDBWarehouse, ref: TableRef, rows: int) -> None:
    with warehouse.connect() as con:
        base = exp.Create(
            this=exp.table_("base_rows"),
            kind="TABLE",
            expression=rows_sql(0, rows),
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        con.execute(base.sql("duckdb"))
        upsert(con, ref, 1, exp.table_("base_rows", db="temp"), KEYS, None)
        con.execute("drop table temp.base_rows")


def aside(
    warehouse: DuckDBWarehouse, con: duckdb.DuckDBPyConnection, name: str, ref: TableRef, n: int
) -> dict[str, float]:
    """Beside the target: the manifest, a full read, a whole copy, compaction."""
    segment = exp.table_(f"{ref.name}__seg1", db="bronze__segments")  # the base segment
    version = exp.table_(ref.version_identifier(n), db=ref.shadow_schema)
    hashed = exp.select("count(*)", "sum(hash(t))").from_(version.as_("t"))
    copy = exp.Create(
        this=exp.table_(f"copy_{name}"), kind="TABLE", expression=exp.select("*").from_(segment)
    )
    return {
        f"manifest_{name}": timed(lambda: warehouse.manifest(ref, n)),
        f"read_all_{name}": timed(lambda: con.execute(hashed.sql("duckdb")).fetchall()),
        f"copy_whole_{name}": timed(lambda: con.execute(copy.sql("duckdb"))),
        f"compact_{name}": timed(lambda: warehouse.compact_version(ref, n)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="the first table's rows")
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = {"base": args.rows, "double": 2 * args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDBWarehouse(Path(tmp) / "warehouse.duckdb")
        warehouse.create()
        refs = {name: TableRef(Layer.BRONZE, f"orders_{name}") for name in sizes}
        t0 = time.perf_counter()
        for name, rows in sizes.items():
            build_base(warehouse, refs[name], rows)
        batches = {name: batch_rows(rows, args.batch) for name, rows in sizes.items()}
        print(
            f"setup: {sizes} rows and two {args.batch:,}-row batches in {time.perf_counter() - t0:.1f}s"
        )

        samples: dict[str, list[float]] = {"raw_insert": [], "upsert_base": [], "upsert_double": []}
        version = dict.fromkeys(sizes, 1)

        def upsert_next(name: str) -> float:
            version[name] += 1
            ref, n, rows = refs[name], version[name], batches[name]
            return timed(lambda: warehouse.upsert_version(ref, n, rows, keys=KEYS, base_version=1))

        with warehouse.hold(), warehouse.connect() as con:
            con.register("batch", batches["base"])
            for i in range(args.repeat):
                con.execute("create table plain as select * from batch limit 0")
                samples["raw_insert"].append(
                    timed(lambda: con.execute("insert into plain select * from batch"))
                )
                con.execute("drop table plain")
                con.execute("checkpoint")  # the dropped table's blocks freed outside any timing
                # alternate which table goes first, so neither always follows the raw insert
                for name in sorted(sizes, reverse=bool(i % 2)):
                    samples[f"upsert_{name}"].append(upsert_next(name))
            con.unregister("batch")
            info: dict[str, float] = {}
            for name in sizes:
                info |= aside(warehouse, con, name, refs[name], version[name])

    raw, up10, up20 = (median(samples[k]) for k in ("raw_insert", "upsert_base", "upsert_double"))
    result = {
        "batch_rows": args.batch,
        "table_rows": sizes,
        "raw_insert_s": round(raw, 4),
        "upsert_into_base_s": round(up10, 4),
        "upsert_into_double_s": round(up20, 4),
        "upsert_vs_raw_insert": round(up10 / raw, 2),
        "double_vs_base": round(up20 / up10, 2),
        "goals": {"upsert_vs_raw_insert": 3.0, "double_vs_base": 1.3},
        "not_targeted_s": {k: round(v, 3) for k, v in info.items()},
        "repeat": args.repeat,
    }
    print(f"{'measure':<34}{'seconds':>10}")
    print(f"{'raw INSERT of the batch':<34}{raw:>10.3f}")
    print(f"{'upsert into ' + format(sizes['base'], ','):<34}{up10:>10.3f}   {up10 / raw:.2f}x raw")
    print(
        f"{'upsert into ' + format(sizes['double'], ','):<34}{up20:>10.3f}   {up20 / up10:.2f}x the first"
    )
    for k, v in info.items():
        print(f"{k:<34}{v:>10.3f}   (not targeted)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
