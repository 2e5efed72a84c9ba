"""Upserted versions on both adapters (a real DuckDB file; BigQuery through the fake client):
latest row per key whatever the batches, versions that never change once written, O(1)
promotion onto them, compaction that keeps every row, and failures that leave nothing."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.warehouse import DuckDBWarehouse, Warehouse
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from orchestration.warehouse.duckdb_upserts import segment_counts
from orchestration.warehouse.interface import VersionManifest, manifest_of
from orchestration.warehouse.statements import Dialect, Statements
from orchestration.warehouse.upserts import UpsertKeys
from policies.errors import InvalidTransition, NotFound, ValidationFailed
from policies.naming import Layer, TableRef
from tests.warehouse_support import KINDS, PROJECT, adapter

REF = TableRef(Layer.BRONZE, "orders")
KEYS = UpsertKeys(("id",), "event_time")
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("event_time", pa.timestamp("us")),
        ("amount", pa.int64()),
        ("note", pa.string()),
    ]
)
T0 = datetime(2026, 7, 1, 8, 0)
Row = dict[str, Any]


def truth(batches: Sequence[list[Row]]) -> list[Row]:
    """The rule, written plainly: latest event time (NULL lowest), then later batch, then the
    greatest row (columns in order)."""

    def rank(row: Row, batch: int) -> tuple[Any, ...]:
        def key(v: Any) -> tuple[bool, Any]:
            return (v is not None, v)

        return (key(row["event_time"]), batch, key(row["id"]), key(row["amount"]), key(row["note"]))

    best: dict[int, tuple[tuple[Any, ...], Row]] = {}
    for b, rows in enumerate(batches):
        for row in rows:
            r = rank(row, b)
            if row["id"] not in best or r > best[row["id"]][0]:
                best[row["id"]] = (r, row)
    return sorted((row for _, row in best.values()), key=lambda r: r["id"])


def rows_of(warehouse: Warehouse, version: int) -> list[Row]:
    statements = (
        Statements(Dialect.DUCKDB)
        if isinstance(warehouse, DuckDBWarehouse)
        else Statements(Dialect.BIGQUERY, project=PROJECT)
    )
    query = exp.select("id", "event_time", "amount", "note").from_(
        statements.version_table(REF, version)
    )
    found = [dict(zip(SCHEMA.names, r, strict=True)) for r in warehouse.profile(query, table=REF)]
    return sorted(found, key=lambda r: r["id"])


def scanned(warehouse: DuckDBWarehouse, version: int) -> VersionManifest:
    """The manifest computed by scanning the version, as for any version."""
    with warehouse.connect() as con:
        ((count, total),) = con.execute(
            Statements(Dialect.DUCKDB).content_hash(REF, version).sql("duckdb")
        ).fetchall()
    return manifest_of(warehouse.kind, int(count), warehouse.columns(REF, version), int(total))


def batch(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def random_batch(rng: random.Random, keys: int, size: int) -> list[Row]:
    return [
        {
            "id": rng.randrange(keys),
            "event_time": None if rng.random() < 0.05 else T0 + timedelta(minutes=rng.randrange(6)),
            "amount": rng.randrange(4),
            "note": rng.choice(["a", "b", None]),
        }
        for _ in range(size)
    ]


@pytest.fixture(params=KINDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    return adapter(request.param, tmp_path, catalog.engine).warehouse


def test_each_version_holds_the_latest_row_per_key(warehouse: Warehouse) -> None:
    rng = random.Random(7)
    batches = [random_batch(rng, 30, 40) for _ in range(5)]
    for n, rows in enumerate(batches, start=1):
        warehouse.upsert_version(REF, n, batch(rows), keys=KEYS, base_version=n - 1 or None)
    for n in range(1, 6):
        assert rows_of(warehouse, n) == truth(batches[:n]), f"version {n}"
        if isinstance(warehouse, DuckDBWarehouse):  # recorded when written, equal to a scan
            assert warehouse.manifest(REF, n) == scanned(warehouse, n)
    assert warehouse.versions(REF) == [1, 2, 3, 4, 5]
    if isinstance(warehouse, BigQueryWarehouse):  # four clones, each with the batch merged in
        sent = [q.sql or "" for q in warehouse.jobs.client.queries(dry_run=False)]  # type: ignore[attr-defined]
        assert sum(s.startswith("MERGE INTO") for s in sent) == 4
        assert sum(" CLONE " in s for s in sent) == 4


def test_versions_never_change_and_promotion_is_a_view_swap(warehouse: Warehouse) -> None:
    rng = random.Random(3)
    first, second = random_batch(rng, 20, 30), random_batch(rng, 20, 30)
    warehouse.upsert_version(REF, 1, batch(first), keys=KEYS)
    before = warehouse.manifest(REF, 1)
    warehouse.swap_view(REF, 1)
    warehouse.upsert_version(REF, 2, batch(second), keys=KEYS, base_version=1)
    assert warehouse.manifest(REF, 1) == before
    warehouse.swap_view(REF, 2)
    assert warehouse.view_version(REF) == 2
    assert warehouse.manifest(REF, 2).row_count == len(truth([first, second]))
    with pytest.raises(InvalidTransition):
        warehouse.upsert_version(REF, 2, batch(second), keys=KEYS, base_version=1)


def test_an_upsert_onto_a_whole_copy_adopts_it(warehouse: Warehouse) -> None:
    rng = random.Random(5)
    plain, update = random_batch(rng, 15, 15), random_batch(rng, 15, 10)
    warehouse.create_version_from_rows(REF, 1, batch(truth([plain])))
    warehouse.upsert_version(REF, 2, batch(update), keys=KEYS, base_version=1)
    warehouse.drop_version(REF, 1)  # the janitor may drop the base: version 2 does not need it
    assert rows_of(warehouse, 2) == truth([truth([plain]), update])
    warehouse.upsert_version(REF, 3, batch(update[:4]), keys=KEYS, base_version=2)
    if isinstance(warehouse, DuckDBWarehouse):
        assert warehouse.manifest(REF, 2) == scanned(warehouse, 2)
        assert warehouse.manifest(REF, 3) == scanned(warehouse, 3)


def test_a_refused_upsert_leaves_nothing(warehouse: Warehouse) -> None:
    with pytest.raises(NotFound):
        warehouse.upsert_version(
            REF, 2, batch(random_batch(random.Random(1), 5, 5)), keys=KEYS, base_version=1
        )
    assert warehouse.versions(REF) == []
    if isinstance(warehouse, DuckDBWarehouse):
        with pytest.raises(ValidationFailed):
            warehouse.upsert_version(REF, 1, batch([]).drop_columns(["event_time"]), keys=KEYS)
        assert warehouse.versions(REF) == []


def test_compaction_folds_segments_and_keeps_every_row(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.create()
    rng = random.Random(11)
    batches = [random_batch(rng, 50, 60) for _ in range(4)]
    for n, rows in enumerate(batches, start=1):
        warehouse.upsert_version(REF, n, batch(rows), keys=KEYS, base_version=n - 1 or None)
    hashes = {n: warehouse.manifest(REF, n).content_hash for n in range(1, 5)}
    with warehouse.connect() as con:
        assert segment_counts(con, REF) == {1: 1, 2: 2, 3: 3, 4: 4}
    assert warehouse.compact_version(REF, 4) and not warehouse.compact_version(REF, 4)
    warehouse.drop_version(REF, 2)
    warehouse.drop_version(REF, 3)
    with warehouse.connect() as con:
        assert segment_counts(con, REF) == {1: 1, 4: 1}
        (tables,) = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'bronze__segments' "
            "and table_name like 'orders__seg%'"
        ).fetchall()
    assert tables == (2,), "segments no version names are dropped"
    assert {n: warehouse.manifest(REF, n).content_hash for n in (1, 4)} == {
        1: hashes[1],
        4: hashes[4],
    }
    assert rows_of(warehouse, 4) == truth(batches)
    assert warehouse.manifest(REF, 4) == scanned(warehouse, 4)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 8), st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 2)
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_batches_give_the_deduplicated_truth(
    tmp_path_factory: pytest.TempPathFactory, raw: list[list[tuple[int, int | None, int]]]
) -> None:
    warehouse = DuckDBWarehouse(tmp_path_factory.mktemp("w") / "w.duckdb")
    warehouse.create()
    batches = [
        [
            {
                "id": i,
                "event_time": None if e is None else T0 + timedelta(hours=e),
                "amount": a,
                "note": None,
            }
            for i, e, a in rows
        ]
        for rows in raw
    ]
    for n, rows in enumerate(batches, start=1):
        warehouse.upsert_version(REF, n, batch(rows), keys=KEYS, base_version=n - 1 or None)
    final = rows_of(warehouse, len(batches))
    assert final == truth(batches)
    for n in range(1, len(batches) + 1):
        assert warehouse.manifest(REF, n) == scanned(warehouse, n), f"version {n}"
    assert len({r["id"] for r in final}) == len(final), "never two rows for one key"


_KILLED_UPSERT = """
import sys, time
from datetime import datetime
from pathlib import Path
import pyarrow as pa
from orchestration.warehouse import DuckDBWarehouse
import orchestration.warehouse.duckdb_upserts as upserts
from orchestration.warehouse.upserts import UpsertKeys
from policies.naming import Layer, TableRef

real_run = upserts._run
def run(con, *statements):
    real_run(con, *statements)
    if any(s.args.get("kind") == "VIEW" for s in statements):
        print("stalled", flush=True)  # segment and view written, the transaction still open
        time.sleep(120)
upserts._run = run
rows = pa.table({"id": [1, 9], "event_time": [datetime(2026, 8, 1), datetime(2026, 8, 1)],
                 "amount": [5, 5], "note": ["late", "new"]})
DuckDBWarehouse(Path(sys.argv[1])).upsert_version(
    TableRef(Layer.BRONZE, "orders"), 2, rows, keys=UpsertKeys(("id",), "event_time"), base_version=1
)
"""


def test_an_upsert_killed_before_its_commit_leaves_no_trace(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(path)
    warehouse.create()
    first = random_batch(random.Random(2), 10, 10)
    warehouse.upsert_version(REF, 1, batch(first), keys=KEYS)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_UPSERT), str(path)],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "stalled"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert warehouse.versions(REF) == [1]
    with warehouse.connect() as con:
        assert segment_counts(con, REF) == {1: 1}
        (segments,) = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'bronze__segments' "
            "and table_name like 'orders__seg%'"
        ).fetchall()
    assert segments == (1,)
    second = [{"id": 1, "event_time": datetime(2026, 8, 1), "amount": 5, "note": "late"}]
    warehouse.upsert_version(REF, 2, batch(second), keys=KEYS, base_version=1)  # goes through
    assert rows_of(warehouse, 2) == truth([first, second])
