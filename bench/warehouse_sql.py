"""Render every statement Spyne generates for DuckDB and for BigQuery, side by side.

For each entry of :func:`orchestration.warehouse.catalogue.catalogue`, both dialects are
rendered ``--repeat`` times, interleaved so that load on the machine hits both alike; each
BigQuery statement is then parsed back with sqlglot's BigQuery dialect and rendered again,
and must come back unchanged. Prints a table and, as its last line, JSON with the number of
statements, how many round-trip through the BigQuery parser unchanged (goal: all), and the
mean render time per statement in each dialect, with their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import sqlglot
from sqlglot import exp

from orchestration.warehouse.catalogue import catalogue
from orchestration.warehouse.statements import Dialect, Statements

DIALECTS = {
    Dialect.DUCKDB: Statements(Dialect.DUCKDB),
    Dialect.BIGQUERY: Statements(Dialect.BIGQUERY, project="acme-data", region="eu"),
}


def _round_trips(sql: str) -> bool:
    try:
        return sqlglot.parse_one(sql, read="bigquery").sql(dialect="bigquery") == sql
    except sqlglot.errors.SqlglotError:
        return False


def _mean_render_seconds(st: Statements, statements: list[exp.Expr], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for statement in statements:
            st.render(statement)
    return (time.perf_counter() - start) / (repeat * len(statements))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    entries = {d: catalogue(st) for d, st in DIALECTS.items()}
    flat = {d: [s for group in e.values() for s in group] for d, e in entries.items()}
    samples: dict[Dialect, list[float]] = {d: [] for d in DIALECTS}
    for _ in range(5):  # interleaved rounds
        for dialect, st in DIALECTS.items():
            samples[dialect].append(_mean_render_seconds(st, flat[dialect], args.repeat // 5 or 1))
    mean = {d: statistics.median(v) for d, v in samples.items()}

    bigquery = DIALECTS[Dialect.BIGQUERY]
    failures: list[str] = []
    print(f"{'statement':36} {'duckdb':>7} {'bigquery':>9} {'round-trip':>11}")
    for name in dict.fromkeys([*entries[Dialect.DUCKDB], *entries[Dialect.BIGQUERY]]):
        ours = entries[Dialect.BIGQUERY].get(name, [])
        ok = all(_round_trips(bigquery.render(s)) for s in ours)
        if ours and not ok:
            failures.append(name)
        print(
            f"{name:36} {len(entries[Dialect.DUCKDB].get(name, [])):>7} {len(ours):>9} "
            f"{('yes' if ok else 'NO') if ours else '-':>11}"
        )
    round_trip = sum(_round_trips(bigquery.render(s)) for s in flat[Dialect.BIGQUERY])
    result = {
        "statements": len(flat[Dialect.BIGQUERY]) + len(flat[Dialect.DUCKDB]),
        "bigquery_statements": len(flat[Dialect.BIGQUERY]),
        "duckdb_statements": len(flat[Dialect.DUCKDB]),
        "bigquery_round_trip": round_trip,
        "all_round_trip": round_trip == len(flat[Dialect.BIGQUERY]),
        "not_round_tripping": failures,
        "mean_render_us_duckdb": round(mean[Dialect.DUCKDB] * 1e6, 1),
        "mean_render_us_bigquery": round(mean[Dialect.BIGQUERY] * 1e6, 1),
        "bigquery_vs_duckdb_render": round(mean[Dialect.BIGQUERY] / mean[Dialect.DUCKDB], 3),
    }
    print(
        f"{result['bigquery_statements']} BigQuery statements, {round_trip} round-trip unchanged; "
        f"mean render {result['mean_render_us_duckdb']} us (duckdb) vs "
        f"{result['mean_render_us_bigquery']} us (bigquery)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
