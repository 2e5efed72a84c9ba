"""The SQL safety gate against sqlglot's parse alone, on the same few thousand queries.

Queries range from one-line lookups to 200-line analytic queries (CTE chains, joins, windows,
CASE ladders), in the three dialects, plus the regression corpus of the tests (TPC-H, TPC-DS
style, everyday analytics). Each query is timed both ways, alternating which goes first, and the
best of ``--repeat`` runs is kept per query. Prints a table and, as its last line, JSON with the
mean, p50 and p95 milliseconds per query of the full gate and of ``sqlglot.parse_one``, and
their ratio (goal: mean ratio <= 1.5, gate p50 <= 3 ms). Says whether sqlglot runs compiled
(``sqlglotc``, mypyc).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import sqlglot
import yaml

from policies.sql_safety import DIALECTS, check_sql

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "fixtures" / "sql_corpus.yaml"
AGGS = ("sum", "avg", "min", "max", "count")
OPS = ("=", ">", "<", ">=", "<=", "<>")


def _col(rng: random.Random) -> str:
    return f"c{rng.randint(0, 40)}"


def _predicate(rng: random.Random, alias: str) -> str:
    kind = rng.randint(0, 3)
    if kind == 0:
        return f"{alias}.{_col(rng)} {rng.choice(OPS)} {rng.randint(0, 10_000)}"
    if kind == 1:
        return f"{alias}.{_col(rng)} IN ({', '.join(str(rng.randint(0, 99)) for _ in range(5))})"
    if kind == 2:
        return f"{alias}.{_col(rng)} LIKE '%{rng.choice(['drop', 'ab', 'x'])}%'"
    return f"{alias}.d{rng.randint(0, 3)} >= DATE '2026-0{rng.randint(1, 9)}-01'"


def lookup(rng: random.Random) -> str:
    cols = ", ".join(_col(rng) for _ in range(rng.randint(1, 6)))
    limit = f" LIMIT {rng.randint(1, 500)}" if rng.random() < 0.5 else ""
    return f"SELECT {cols} FROM s{rng.randint(0, 9)}.t{rng.randint(0, 99)} AS a WHERE {_predicate(rng, 'a')}{limit}"


def report(rng: random.Random) -> str:
    joins = rng.randint(0, 4)
    parts = [f"FROM s0.t{rng.randint(0, 99)} AS a0"]
    for i in range(1, joins + 1):
        kind = rng.choice(["JOIN", "LEFT JOIN"])
        parts.append(f"{kind} s0.t{rng.randint(0, 99)} AS a{i} ON a{i}.id = a{i - 1}.{_col(rng)}")
    keys = [f"a{rng.randint(0, joins)}.{_col(rng)}" for _ in range(rng.randint(1, 3))]
    measures = [f"{rng.choice(AGGS)}(a0.{_col(rng)}) AS m{i}" for i in range(rng.randint(1, 6))]
    where = " AND ".join(
        _predicate(rng, f"a{rng.randint(0, joins)}") for _ in range(rng.randint(1, 4))
    )
    return (
        f"SELECT {', '.join(keys)}, {', '.join(measures)}\n{chr(10).join(parts)}\nWHERE {where}\n"
        f"GROUP BY {', '.join(keys)}\nORDER BY 1\nLIMIT {rng.randint(10, 1000)}"
    )


def analytic(rng: random.Random, ctes: int) -> str:
    """A CTE chain: each CTE about ten lines, reading the previous one and a base table."""
    blocks = []
    for i in range(ctes):
        source = f"s1.t{rng.randint(0, 99)}" if i == 0 else f"step{i - 1}"
        cases = "\n".join(
            f"    WHEN b.{_col(rng)} > {rng.randint(0, 100)} THEN '{rng.choice(['hi', 'mid', 'lo'])}'"
            for _ in range(3)
        )
        blocks.append(
            f"step{i} AS (\n  SELECT b.id, b.{_col(rng)} AS c{i},\n"
            f"    {rng.choice(AGGS)}(b.{_col(rng)}) OVER (PARTITION BY b.{_col(rng)} ORDER BY b.id) AS w{i},\n"
            f"    CASE\n{cases}\n    ELSE 'none' END AS band{i},\n"
            f"    COALESCE(k.{_col(rng)}, 0) AS k{i}\n"
            f"  FROM {source} AS b\n"
            f"  LEFT JOIN s2.dim{rng.randint(0, 20)} AS k ON k.id = b.{_col(rng)}\n"
            f"  WHERE {_predicate(rng, 'b')} AND {_predicate(rng, 'b')}\n)"
        )
    last = f"step{ctes - 1}"
    return (
        "WITH " + ",\n".join(blocks) + f"\nSELECT band{ctes - 1}, count(*) AS n, "
        f"sum(c{ctes - 1}) AS total\nFROM {last}\nGROUP BY band{ctes - 1}\nORDER BY n DESC"
    )


def queries(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["queries"]
    for q in corpus:
        for dialect in q["dialects"]:
            out.append((q["sql"], dialect))
    while len(out) < n:
        dialect = rng.choice(DIALECTS)
        roll = rng.random()
        if roll < 0.4:
            sql = lookup(rng)
        elif roll < 0.8:
            sql = report(rng)
        else:
            sql = analytic(rng, rng.randint(2, 18))  # about 25 to 200 lines
        out.append((sql, dialect))
    return out


def _best(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def compiled() -> bool:
    import sqlglot.parser

    return str(sqlglot.parser.__file__).endswith(".so")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()

    import logging

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    work = queries(args.queries, args.seed)
    gate: list[float] = []
    parse: list[float] = []
    lines: list[int] = []
    decisions: dict[str, int] = {}
    for i, (sql, dialect) in enumerate(work):
        decision = check_sql(sql, dialect).decision
        decisions[decision] = decisions.get(decision, 0) + 1
        timed = [
            ("gate", lambda s=sql, d=dialect: check_sql(s, d)),
            ("parse", lambda s=sql, d=dialect: sqlglot.parse_one(s, read=d)),
        ]
        if i % 2:
            timed.reverse()
        for name, fn in timed:
            (gate if name == "gate" else parse).append(_best(fn, args.repeat))
        lines.append(sql.count("\n") + 1)

    def ms(v: float) -> float:
        return round(v * 1000, 3)

    result = {
        "queries": len(work),
        "lines_max": max(lines),
        "lines_mean": round(statistics.mean(lines), 1),
        "sqlglot": sqlglot.__version__,
        "sqlglot_compiled": compiled(),
        "decisions": decisions,
        "gate_mean_ms": ms(statistics.mean(gate)),
        "gate_p50_ms": ms(_pct(gate, 0.5)),
        "gate_p95_ms": ms(_pct(gate, 0.95)),
        "parse_mean_ms": ms(statistics.mean(parse)),
        "parse_p50_ms": ms(_pct(parse, 0.5)),
        "parse_p95_ms": ms(_pct(parse, 0.95)),
    }
    result["ratio_mean"] = round(statistics.mean(gate) / statistics.mean(parse), 3)
    result["ratio_p95"] = round(_pct(gate, 0.95) / _pct(parse, 0.95), 3)
    print(f"{'':8} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name in ("gate", "parse"):
        print(
            f"{name:8} {result[f'{name}_mean_ms']:>8} {result[f'{name}_p50_ms']:>8} "
            f"{result[f'{name}_p95_ms']:>8}"
        )
    print(
        f"{len(work)} queries (1 to {max(lines)} lines), sqlglot {sqlglot.__version__} "
        f"{'compiled (sqlglotc)' if result['sqlglot_compiled'] else 'pure Python'}; "
        f"gate/parse {result['ratio_mean']}x mean, {result['ratio_p95']}x p95"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
