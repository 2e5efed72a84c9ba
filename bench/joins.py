"""Join discovery on generated catalogs of 200 and 1,000 tables (30 columns each).

Each catalog is a DuckDB file of ERP clusters (:mod:`bench.join_schemas`): most tables hold
thousands of rows, one cluster in 40 is large (order lines near 1M rows). Discovery runs as
`spyne joins discover --duckdb` does: profiles pushed down (no rows pulled into Python),
blocking by name and type before any pair-wise work, validation SQL for the survivors. Prints
a table, then the last line as JSON: both times, the growth against the table count (linear
growth is 5x from 200 to 1,000 tables, quadratic 25x), and precision/recall at 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.join_schemas import TrueJoin, generate
from orchestration.joins.discovery import discover
from orchestration.joins.sources import DuckDBFileSource

LARGE_EVERY = 40  # one large cluster per this many small ones


def _mapping(
    child: str, cc: tuple[str, ...], parent: str, pc: tuple[str, ...]
) -> tuple[object, ...]:
    return (child.split(".")[-1], frozenset(zip(cc, pc, strict=True)), parent.split(".")[-1])


def run(tables: int, workdir: Path) -> dict[str, float]:
    path = workdir / f"catalog_{tables}.duckdb"
    clusters = max(1, tables // 12)
    started = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        truth: list[TrueJoin] = generate(con, tables, large=max(1, clusters // LARGE_EVERY))
        rows = sum(
            int(n)
            for (n,) in con.execute(
                "select estimated_size from duckdb_tables() where schema_name = 'main'"
            ).fetchall()
        )
        (count,) = con.execute("select count(*) from duckdb_tables()").fetchone() or (0,)
    generated = time.perf_counter() - started
    with DuckDBFileSource.open(path) as source:
        found = discover(source, min_confidence=0.5)
    expected = {
        _mapping(t.child_table, t.child_columns, t.parent_table, t.parent_columns) for t in truth
    }
    got = {
        _mapping(c.child_table, c.child_columns, c.parent_table, c.parent_columns)
        for c in found.candidates
    }
    hits = len(got & expected)
    return {
        "tables": int(count),
        "rows": rows,
        "generate_s": round(generated, 1),
        "discover_s": found.seconds["total"],
        "profile_s": found.seconds["profile"],
        "score_s": found.seconds["score"],
        "validate_s": found.seconds["validate"],
        "validated_pairs": found.validated,
        "candidates": len(found.candidates),
        "precision": round(hits / len(got), 3) if got else 0.0,
        "recall": round(hits / len(expected), 3) if expected else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", default="200,1000", help="catalog sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.tables.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="spyne-bench-joins-") as tmp:
        for size in sizes:
            results[size] = run(size, Path(tmp))
            r = results[size]
            print(
                f"{r['tables']:>5} tables {r['rows']:>10,} rows: discovery {r['discover_s']:>7.1f} s "
                f"(profile {r['profile_s']:.1f}, score {r['score_s']:.1f}, validate "
                f"{r['validate_s']:.1f} on {r['validated_pairs']} pairs) "
                f"precision {r['precision']} recall {r['recall']}"
            )
    summary: dict[str, object] = {f"tables_{k}": v for k, v in results.items()}
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        growth = large["discover_s"] / small["discover_s"]
        size_ratio = large["tables"] / small["tables"]
        summary |= {
            "growth": round(growth, 2),
            "linear_growth": round(size_ratio, 2),
            "quadratic_growth": round(size_ratio**2, 2),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
