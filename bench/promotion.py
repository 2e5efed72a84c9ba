"""Promotion and rollback cost vs table size, and vs copying the data, measured side by side.

Builds a 1,000-row and a 10,000,000-row table (two versions each) in a temporary DuckDB
warehouse with a SQLite catalog, then times `promote` and `rollback` through the same
TableService the CLI uses (policy checks, catalog transaction, view swap, audit), and a
CTAS copy of the large version. Gates are recorded as passed directly: this measures the
cost of publishing, not of checking. Last line: JSON with the timings and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.lifecycle.service import TableService
from orchestration.warehouse import DuckDBWarehouse, canonical_table, version_table
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Role


def build(warehouse: DuckDBWarehouse, ref: TableRef, version: int, rows: int) -> None:
    query = exp.select(
        "range as id",
        "range % 1000 as customer_id",
        "(range * 7) % 10000 / 100.0 as amount",
        "'s' || (range % 5) as status",
        exp.alias_(exp.Literal.number(version), "build"),
    ).from_(exp.func("range", exp.Literal.number(rows)))
    warehouse.create_version(ref, version, query)


def median_seconds(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wh_path = Path(tmp) / "warehouse.duckdb"
        catalog = Catalog(f"sqlite:///{tmp}/catalog.db")
        catalog.upgrade()
        warehouse = DuckDBWarehouse(wh_path)
        warehouse.create()
        svc = TableService(catalog, warehouse, PublishingPolicy())
        principal, _ = catalog.create_principal("bench-admin", Role.ADMIN, created_by="bench")
        admin = Actor(principal)
        catalog.set_mode(SystemMode.INGESTION_READY, admin.name, "bench")
        small, large = TableRef(Layer.GOLD, "bench_small"), TableRef(Layer.GOLD, "bench_large")

        t0 = time.perf_counter()
        with warehouse.hold():
            for ref, rows in ((small, args.small), (large, args.large)):
                build(warehouse, ref, 1, rows)
                build(warehouse, ref, 2, rows)
        build_seconds = time.perf_counter() - t0
        for ref in (small, large):
            for v in (1, 2):
                svc.register_build(admin, ref, v, None)
                catalog.record_gate(ref.canonical, v, "passed", {"bench": True}, actor=admin.name)
            svc.promote(admin, ref.canonical, 1)

        def cycles() -> tuple[float, float, float, float]:
            """Median promote/rollback seconds for small and large, interleaved so drift hits both."""
            samples: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.repeat):
                for label, ref in (("small", small), ("large", large)):
                    t = time.perf_counter()
                    svc.promote(admin, ref.canonical, 2)
                    samples.setdefault((label, "promote"), []).append(time.perf_counter() - t)
                    t = time.perf_counter()
                    svc.rollback(admin, ref.canonical, 1)
                    samples.setdefault((label, "rollback"), []).append(time.perf_counter() - t)
            med = {k: statistics.median(v) for k, v in samples.items()}
            return (
                med[("small", "promote")],
                med[("small", "rollback")],
                med[("large", "promote")],
                med[("large", "rollback")],
            )

        cycles()  # warm-up (imports, first connections)
        # cold: every operation opens the warehouse file itself, as one CLI command does
        cold_promote_small, cold_rollback_small, cold_promote_large, cold_rollback_large = cycles()
        # warm: a long-lived process (Dagster step, API) holding its warehouse connection
        with warehouse.hold():
            promote_small, rollback_small, promote_large, rollback_large = cycles()

            copy_sql = exp.Create(
                this=exp.table_("bench_copy", db=large.shadow_schema),
                kind="TABLE",
                replace=True,
                expression=exp.select("*").from_(version_table(large, 2)),
            ).sql(dialect="duckdb")

            def copy() -> None:
                with warehouse.connect() as con:
                    con.execute(copy_sql)

            copy_large = median_seconds(copy, 3)
        count = exp.select("count(*)").from_(canonical_table(large)).sql(dialect="duckdb")
        row_check = warehouse.query(count)[0][0]
        catalog.dispose()

    result = {
        "small_rows": args.small,
        "large_rows": args.large,
        "build_seconds": round(build_seconds, 3),
        "promote_small_s": promote_small,
        "promote_large_s": promote_large,
        "rollback_small_s": rollback_small,
        "rollback_large_s": rollback_large,
        "copy_large_s": copy_large,
        "cold_promote_small_s": cold_promote_small,
        "cold_promote_large_s": cold_promote_large,
        "cold_rollback_small_s": cold_rollback_small,
        "cold_rollback_large_s": cold_rollback_large,
        "cold_large_vs_small": cold_promote_large / cold_promote_small,
        "cold_copy_vs_promote": copy_large / cold_promote_large,
        "large_vs_small": promote_large / promote_small,
        "rollback_large_vs_small": rollback_large / rollback_small,
        "copy_vs_promote": copy_large / promote_large,
        "large_view_rows": row_check,
        "targets": {"large_vs_small_max": 1.2, "copy_vs_promote_min": 100},
    }
    print(
        f"cold promote 1k: {cold_promote_small * 1000:8.2f} ms   10M: {cold_promote_large * 1000:8.2f} ms   ratio {result['cold_large_vs_small']:.3f}"
    )
    print(
        f"promote  1k: {promote_small * 1000:8.2f} ms   10M: {promote_large * 1000:8.2f} ms   ratio {result['large_vs_small']:.3f}"
    )
    print(
        f"rollback 1k: {rollback_small * 1000:8.2f} ms   10M: {rollback_large * 1000:8.2f} ms   ratio {result['rollback_large_vs_small']:.3f}"
    )
    print(
        f"CTAS copy of 10M: {copy_large * 1000:.1f} ms = {result['copy_vs_promote']:.0f}x a promotion"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
