"""Schema drift check over many sources: live information schemas on DuckDB vs expected schemas.

Writes a DuckDB source with N tables of 30 columns each (built with sqlglot), and expected
schemas for them as a provider would hand them over (a third spelled for BigQuery, so the check
parses across dialects), with drift in one table out of twenty (a rename, a narrowing, an added
column, a removal). It then times the whole check the drift sensor and `spyne drift check` run
(:func:`orchestration.sensors.source_drift.check_sources`: one information-schema read through the
warehouse, then one comparison per source) for 1,000 and for 100 sources, alternating, each in a
fresh process so the type-parse cache starts cold, medians of ``--repeat`` runs. It then does the
same with the expected schemas read from a catalog of registered contracts (one ODCS contract
per table, 1,000 and 100 of them in a SQLite catalog, as the drift sensor reads them:
:func:`~orchestration.sensors.source_drift.contract_schemas` then the check). Prints a table
and, as its last line, JSON with the times (goal: 1,000 sources <= 2 s) and the time per source
at each size (goal: linear or better).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = 30
# (DuckDB type, the same type as BigQuery spells it)
TYPES = [
    ("BIGINT", "INT64"),
    ("VARCHAR", "STRING"),
    ("DECIMAL(12,2)", "NUMERIC(12,2)"),
    ("DATE", "DATE"),
    ("TIMESTAMP", "DATETIME"),
    ("DOUBLE", "FLOAT64"),
    ("BOOLEAN", "BOOL"),
    ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP"),
]


def _columns(i: int) -> list[tuple[str, str, str]]:
    return [(f"c{i}_{j:02d}", *TYPES[(i + j) % len(TYPES)]) for j in range(COLUMNS)]


def write_source(path: Path, tables: int) -> None:
    import duckdb
    from sqlglot import exp

    with duckdb.connect(str(path)) as con:
        for i in range(tables):
            cols = _columns(i)
            if i % 20 == 1:
                cols[3] = (cols[3][0] + "_renamed", *cols[3][1:])
            if i % 20 == 2:
                cols[5] = (cols[5][0], "SMALLINT", "INT64")
            if i % 20 == 3:
                cols.append((f"c{i}_extra", "VARCHAR", "STRING"))
            if i % 20 == 4:
                cols.pop()
            schema = exp.Schema(
                this=exp.to_table(f"t{i:04d}"),
                expressions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(name),
                        kind=exp.DataType.build(duck, dialect="duckdb"),
                    )
                    for name, duck, _ in cols
                ],
            )
            con.execute(exp.Create(this=schema, kind="TABLE").sql(dialect="duckdb"))


def run_check(source: str, tables: int) -> dict[str, float | int]:
    """One check in this process: returns its time and what it found."""
    from orchestration.assets.project import BronzeTable
    from orchestration.sensors.source_drift import ExpectedSchema, check_sources
    from orchestration.warehouse import DuckDBWarehouse
    from policies.drift import Column, DriftSeverity
    from policies.naming import Layer, TableRef

    bronze = [
        BronzeTable(TableRef(Layer.BRONZE, f"t{i:04d}"), f"t{i:04d}", "") for i in range(tables)
    ]
    expected = {}
    for i in range(tables):
        bigquery = i % 3 == 0
        cols = tuple(Column(n, bq if bigquery else duck) for n, duck, bq in _columns(i))
        expected[f"t{i:04d}"] = ExpectedSchema(cols, "bigquery" if bigquery else "duckdb", "bench")
    warehouse = DuckDBWarehouse(Path(source).with_name("warehouse.duckdb"))
    start = time.perf_counter()
    checks = check_sources(warehouse, Path(source), bronze, expected, "erp")
    seconds = time.perf_counter() - start
    drifted = sum(c.severity > DriftSeverity.NONE for c in checks)
    breaking = sum(c.severity == DriftSeverity.BREAKING for c in checks)
    return {"seconds": seconds, "checked": len(checks), "drifted": drifted, "breaking": breaking}


_LOGICAL = {"BIGINT": "integer", "VARCHAR": "string", "DATE": "date", "BOOLEAN": "boolean"}


def contract_document(i: int) -> dict[str, object]:
    """An ODCS contract for table ``t<i>`` (upsert on its BIGINT column, event time its
    TIMESTAMP column), spelled with the DuckDB types the source was written with."""
    cols = _columns(i)
    key = next(n for n, duck, _ in cols if duck == "BIGINT")
    event = next(n for n, duck, _ in cols if duck == "TIMESTAMP")
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"bench_t{i:04d}",
        "name": f"bench.t{i:04d}",
        "version": "1.0.0",
        "status": "active",
        "team": {"name": "bench", "members": [{"username": "bench@example.com", "role": "owner"}]},
        "schema": [
            {
                "name": f"t{i:04d}",
                "physicalName": f"t{i:04d}",
                "physicalType": "table",
                "properties": [
                    {
                        "name": n,
                        "logicalType": "timestamp"
                        if "TIMESTAMP" in duck
                        else "number"
                        if duck.startswith(("DECIMAL", "DOUBLE"))
                        else _LOGICAL[duck],
                        "physicalType": duck.lower(),
                        "required": n in (key, event),
                    }
                    for n, duck, _ in cols
                ],
            }
        ],
        "customProperties": [
            {
                "property": "ingestion_semantics",
                "vendor": "spyne",
                "value": {
                    "mode": "upsert",
                    "idempotency_key": [key],
                    "event_time_column": event,
                    "processing_time_column": "_spyne_loaded_at",
                    "dedupe_window": "24h",
                    "conflict_resolution": "latest_wins",
                    "freshness": {"max_lag": "48h", "alert_threshold": "26h", "schedule": "@daily"},
                },
            }
        ],
    }


def write_catalog(path: Path, tables: int) -> str:
    from orchestration.catalog import Catalog
    from policies.contracts import parse_contract

    url = f"sqlite:///{path}"
    catalog = Catalog(url)
    catalog.upgrade()
    for i in range(tables):
        contract = parse_contract(contract_document(i), f"t{i}")
        catalog.contracts.register(contract, "bench", None, source="bench")
    catalog.dispose()
    return url


def run_contract_check(source: str, tables: int, url: str) -> dict[str, float | int]:
    """One check in this process, the expected schemas read from the contract registry."""
    from orchestration.assets.project import BronzeTable
    from orchestration.catalog import Catalog
    from orchestration.sensors.source_drift import check_sources, contract_schemas
    from orchestration.warehouse import DuckDBWarehouse
    from policies.drift import DriftSeverity
    from policies.naming import Layer, TableRef

    bronze = [
        BronzeTable(TableRef(Layer.BRONZE, f"t{i:04d}"), f"t{i:04d}", "") for i in range(tables)
    ]
    catalog = Catalog(url)
    warehouse = DuckDBWarehouse(Path(source).with_name("warehouse.duckdb"))
    start = time.perf_counter()
    expected = contract_schemas(catalog, "duckdb", bronze)
    checks = check_sources(warehouse, Path(source), bronze, expected, "erp")
    seconds = time.perf_counter() - start
    catalog.dispose()
    drifted = sum(c.severity > DriftSeverity.NONE for c in checks)
    breaking = sum(c.severity == DriftSeverity.BREAKING for c in checks)
    return {"seconds": seconds, "checked": len(checks), "drifted": drifted, "breaking": breaking}


def _in_fresh_process(source: Path, tables: int, url: str = "") -> dict[str, float | int]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(source), "--tables", str(tables), "--catalog", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--tables", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--catalog", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.catalog:
            print(json.dumps(run_contract_check(args.one, args.tables, args.catalog)))
        else:
            print(json.dumps(run_check(args.one, args.tables)))
        return

    sizes = (1000, 100)
    with tempfile.TemporaryDirectory() as tmp:
        sources = {n: Path(tmp) / f"source_{n}" / "erp.duckdb" for n in sizes}
        for n, path in sources.items():
            path.parent.mkdir()
            write_source(path, n)
        catalogs = {n: write_catalog(sources[n].with_name("catalog.db"), n) for n in sizes}
        runs: dict[int, list[dict[str, float | int]]] = {n: [] for n in sizes}
        held: dict[int, list[dict[str, float | int]]] = {n: [] for n in sizes}
        for _ in range(args.repeat):
            for n in sizes:  # alternating, so load on the machine hits both alike
                runs[n].append(_in_fresh_process(sources[n], n))
                held[n].append(_in_fresh_process(sources[n], n, catalogs[n]))
    median = {n: statistics.median(float(r["seconds"]) for r in runs[n]) for n in sizes}
    against = {n: statistics.median(float(r["seconds"]) for r in held[n]) for n in sizes}
    print(
        f"{'sources':>8} {'columns':>8} {'median s':>9} {'ms/source':>10} {'drifted':>8} {'breaking':>9}"
    )
    for n in sizes:
        last = runs[n][-1]
        print(
            f"{n:>8} {n * COLUMNS:>8} {median[n]:>9.3f} {median[n] / n * 1000:>10.3f} "
            f"{last['drifted']:>8} {last['breaking']:>9}"
        )
    for n in sizes:
        last = held[n][-1]
        print(
            f"{n:>8} {n * COLUMNS:>8} {against[n]:>9.3f} {against[n] / n * 1000:>10.3f} "
            f"{last['drifted']:>8} {last['breaking']:>9}   (against registered contracts)"
        )
    per_large, per_small = median[1000] / 1000, median[100] / 100
    result = {
        "sources_1000_s": round(median[1000], 3),
        "sources_100_s": round(median[100], 3),
        "columns_per_source": COLUMNS,
        "ms_per_source_1000": round(per_large * 1000, 3),
        "ms_per_source_100": round(per_small * 1000, 3),
        "per_source_1000_vs_100": round(per_large / per_small, 3),
        "goal_1000_within_2s": median[1000] <= 2.0,
        "drifted_1000": runs[1000][-1]["drifted"],
        "breaking_1000": runs[1000][-1]["breaking"],
        "contracts_1000_s": round(against[1000], 3),
        "contracts_100_s": round(against[100], 3),
        "contracts_per_source_1000_vs_100": round((against[1000] / 1000) / (against[100] / 100), 3),
        "goal_contracts_1000_within_2s": against[1000] <= 2.0,
        "contracts_drifted_1000": held[1000][-1]["drifted"],
        "repeat": args.repeat,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
