"""A contract's ingestion semantics as SQL on real DuckDB, held to a plain Python model of them
(hypothesis: random batches with repeated keys, late rows and replays), and its BigQuery text
golden. Regenerate the golden files after a deliberate change with ``SPYNE_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestration.ingestion.dry_run_sql import dry_run_queries
from orchestration.ingestion.semantics_sql import Semantics, plan_batch, refuse_conflicts, relation
from policies.contracts import ConflictResolution, IngestMode
from policies.errors import IngestConflict

GOLDEN = Path(__file__).parent / "golden" / "ingestion_bigquery"
BASE = datetime(2026, 11, 1)
COLUMNS = ("id", "v", "n", "t")
Row = tuple[Any, ...]  # id, v, n, t


def _semantics(
    mode: IngestMode,
    window_h: int = 6,
    conflicts: ConflictResolution = ConflictResolution.LATEST_WINS,
    whole_row_key: bool = False,
) -> Semantics:
    key = COLUMNS if whole_row_key else ("id",)
    return Semantics(
        "erp_test",
        COLUMNS,
        key,
        "t",
        "_spyne_loaded_at",
        mode,
        timedelta(hours=window_h),
        conflicts,
    )


# -- the model the SQL is held to ---------------------------------------------------------------


def _greatest_first(row: Row, s: Semantics) -> tuple[Any, ...]:
    """Sort key for "other columns, greatest first, nulls last" (used with max or reverse)."""
    return tuple(
        (0, 0) if row[i] is None else (1, row[i]) for i, c in enumerate(COLUMNS) if c in s.tie_break
    )


def _key(row: Row, s: Semantics) -> tuple[Any, ...]:
    return tuple(row[COLUMNS.index(k)] for k in s.key)


def model_conflicts(
    s: Semantics, bronze: list[tuple[Row, datetime]], batch: list[Row]
) -> set[tuple[Any, ...]]:
    rows = set(batch)
    times = {(_key(r, s), r[3]) for r in rows}
    rows |= {r for r, _ in bronze if (_key(r, s), r[3]) in times}
    counts = Counter((_key(r, s), r[3]) for r in rows)
    return {(*k, t) for (k, t), n in counts.items() if n > 1}


def model_apply(
    s: Semantics, bronze: list[tuple[Row, datetime]], batch: list[Row], stamp: datetime
) -> list[tuple[Row, datetime]]:
    rows = sorted(set(batch), key=repr)
    assert s.window is not None
    if s.mode is IngestMode.UPSERT:
        state = {_key(r, s): (r, at) for r, at in bronze}
        for key in {_key(r, s) for r in rows}:
            candidates = [(r, 0, stamp) for r in rows if _key(r, s) == key]
            if key in state:
                candidates.append((state[key][0], 1, state[key][1]))
            row, _, at = max(candidates, key=lambda c: (c[0][3], _greatest_first(c[0], s), c[1]))
            state[key] = (row, at)
        return list(state.values())
    kept = []
    for key in {_key(r, s) for r in rows}:
        group = [r for r in rows if _key(r, s) == key]
        # Event time ascending; equal times: greatest first, nulls last (two stable sorts).
        group = sorted(group, key=lambda r: _greatest_first(r, s), reverse=True)
        group = sorted(group, key=lambda r: r[3])
        previous: datetime | None = None
        for r in group:  # the chain runs over every delivered row, entered or not
            in_bronze = any(
                _key(p, s) == _key(r, s) and abs(p[3] - r[3]) < s.window for p, _ in bronze
            )
            if not in_bronze and (previous is None or previous + s.window <= r[3]):
                kept.append((r, stamp))
            previous = r[3]
    return bronze + kept


# -- running the SQL ------------------------------------------------------------------------------


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("create schema landing; create schema bronze__shadow")
    yield c
    c.close()


def _load_batch(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    con.execute(
        "create or replace table landing.batch (id integer, v varchar, n integer, t timestamp, _dlt_id varchar)"
    )
    if rows:
        con.executemany(
            "insert into landing.batch values (?, ?, ?, ?, 'x')", [list(r) for r in rows]
        )


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Row, datetime]]:
    found = con.execute(
        f'select id, v, n, t, _spyne_loaded_at from bronze__shadow."{table}"'
    ).fetchall()
    return [(tuple(r[:4]), r[4]) for r in found]


def _apply(
    con: duckdb.DuckDBPyConnection, s: Semantics, version: int, batch: list[Row], stamp: datetime
) -> int:
    """Load ``batch`` on top of version ``version``; returns the new version (or the same one)."""
    _load_batch(con, batch)
    previous = relation(f"v{version}", "bronze__shadow") if version else None
    target = relation(f"m{version + 1}", "bronze__shadow")
    plan = plan_batch(s, relation("batch", "landing"), previous, stamp, target)
    if plan.conflicts is not None:
        found = con.execute(plan.conflicts.sql("duckdb")).fetchall()
        try:
            refuse_conflicts(s, found)
        except IngestConflict:
            return version
    con.execute(f'create table bronze__shadow."v{version + 1}" as {plan.new_content.sql("duckdb")}')
    # The MERGE/INSERT path on a copy of the previous version gives the same rows.
    source = (
        f'bronze__shadow."v{version}"'
        if version
        else f'bronze__shadow."v{version + 1}" where false'
    )
    con.execute(f'create table bronze__shadow."m{version + 1}" as select * from {source}')
    con.execute(plan.merge.sql("duckdb"))
    assert Counter(_rows(con, f"m{version + 1}")) == Counter(_rows(con, f"v{version + 1}"))
    return version + 1


def _no_duplicates(s: Semantics, content: list[tuple[Row, datetime]]) -> None:
    assert s.window is not None
    rows = [r for r, _ in content]
    if s.mode is IngestMode.UPSERT:
        assert len({_key(r, s) for r in rows}) == len(rows)
        return
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            assert _key(a, s) != _key(b, s) or abs(a[3] - b[3]) >= s.window, (a, b)


rows_st = st.tuples(
    st.integers(0, 4),
    st.sampled_from([None, "a", "b", "c"]),
    st.sampled_from([None, 0, 1]),
    st.integers(0, 72).map(lambda h: BASE + timedelta(hours=h)),
)
batches_st = st.lists(st.lists(rows_st, max_size=12), min_size=1, max_size=6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=batches_st,
    replays=st.lists(st.integers(0, 100), max_size=4),
    mode=st.sampled_from(IngestMode),
    window_h=st.sampled_from([1, 6, 24]),
    whole_row_key=st.booleans(),
    conflicts=st.sampled_from(ConflictResolution),
)
@example(  # delivered again, the row a window after the first must not enter (it did once)
    batches=[[(0, None, None, BASE + timedelta(hours=h)) for h in (0, 1, 6)]],
    replays=[],
    mode=IngestMode.APPEND,
    window_h=6,
    whole_row_key=False,
    conflicts=ConflictResolution.LATEST_WINS,
)
def test_bronze_equals_the_model_with_zero_duplicates(
    con: duckdb.DuckDBPyConnection,
    batches: list[list[Row]],
    replays: list[int],
    mode: IngestMode,
    window_h: int,
    whole_row_key: bool,
    conflicts: ConflictResolution,
) -> None:
    con.execute("drop schema if exists bronze__shadow cascade; create schema bronze__shadow")
    s = _semantics(mode, window_h, conflicts, whole_row_key and mode is IngestMode.APPEND)
    # Replays: earlier batches delivered again, interleaved with new ones.
    deliveries = list(batches)
    for r in replays:
        deliveries.insert(r % (len(deliveries) + 1), batches[r % len(batches)])
    model: list[tuple[Row, datetime]] = []
    version = 0
    for i, batch in enumerate(deliveries):
        stamp = datetime(2027, 1, 1) + timedelta(minutes=i)
        expected_conflicts = model_conflicts(s, model, batch)
        if conflicts is ConflictResolution.ERROR and expected_conflicts:
            before = version
            version = _apply(con, s, version, batch, stamp)
            assert version == before, "a conflicting batch wrote a version"
            continue
        version = _apply(con, s, version, batch, stamp)
        model = model_apply(s, model, batch, stamp)
        assert Counter(_rows(con, f"v{version}")) == Counter(model)
        _no_duplicates(s, model)
    if version and conflicts is ConflictResolution.LATEST_WINS:
        # Any earlier batch delivered once more changes nothing at all.
        for batch in batches:
            again = _apply(con, s, version, batch, datetime(2028, 1, 1))
            assert Counter(_rows(con, f"v{again}")) == Counter(_rows(con, f"v{version}"))
            version = again


def test_upsert_latest_wins_with_deterministic_ties(con: duckdb.DuckDBPyConnection) -> None:
    s = _semantics(IngestMode.UPSERT)
    t1, t2 = BASE, BASE + timedelta(hours=1)
    v1 = _apply(con, s, 0, [(1, "a", 0, t1), (2, "a", 0, t1)], BASE)
    batch = [
        (1, "old", 0, t1 - timedelta(days=1)),
        (1, "b", None, t2),
        (1, "b", 1, t2),
        (2, "a", 0, t1),
    ]
    v2 = _apply(con, s, v1, batch, BASE + timedelta(days=1))
    got = {r[0]: (r, at) for r, at in _rows(con, f"v{v2}")}
    assert got[1] == ((1, "b", 1, t2), BASE + timedelta(days=1))  # latest; tie: n=1 over null
    assert got[2] == ((2, "a", 0, t1), BASE)  # redelivered unchanged: keeps its processing time


def test_conflict_error_names_the_keys_and_writes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    s = _semantics(IngestMode.UPSERT, conflicts=ConflictResolution.ERROR)
    v1 = _apply(con, s, 0, [(1, "a", 0, BASE)], BASE)
    _load_batch(
        con,
        [
            (1, "z", 0, BASE),
            (2, "x", 0, BASE),
            (2, "x", 0, BASE),
            (3, "p", 0, BASE),
            (3, "q", 0, BASE),
        ],
    )
    plan = plan_batch(s, relation("batch", "landing"), relation(f"v{v1}", "bronze__shadow"), BASE)
    assert plan.conflicts is not None
    found = con.execute(plan.conflicts.sql("duckdb")).fetchall()
    assert found == [(1, BASE, 2), (3, BASE, 2)]
    with pytest.raises(IngestConflict) as exc:
        refuse_conflicts(s, found)
    assert exc.value.code == "ingest_conflict"
    assert [k["id"] for k in exc.value.details["keys"]] == [1, 3]
    assert (
        "id=1 at 2026-11-01 00:00:00" in exc.value.message
        and "nothing was written" in exc.value.message
    )


def test_append_window_late_rows_and_new_events(con: duckdb.DuckDBPyConnection) -> None:
    s = _semantics(IngestMode.APPEND, window_h=24)
    v1 = _apply(con, s, 0, [(1, "a", 0, BASE), (1, "a", 0, BASE)], BASE)  # delivered twice
    late = BASE - timedelta(days=3)
    v2 = _apply(
        con,
        s,
        v1,
        [
            (1, "a", 0, BASE + timedelta(hours=5)),
            (1, "a", 0, BASE + timedelta(days=2)),
            (1, "a", 0, late),
        ],
        BASE,
    )
    times = sorted(r[3] for r, _ in _rows(con, f"v{v2}"))
    # Within the window: a repeat; outside it: a new event; a late row outside it lands too.
    assert times == [late, BASE, BASE + timedelta(days=2)]


def test_processing_time_is_never_read_from_the_batch(con: duckdb.DuckDBPyConnection) -> None:
    s = _semantics(IngestMode.UPSERT)
    con.execute(
        "create table landing.batch as select 1 as id, 'a' as v, 0 as n, timestamp '2026-11-01' as t, timestamp '1999-01-01' as _spyne_loaded_at"
    )
    plan = plan_batch(s, relation("batch", "landing"), None, BASE)
    ((_, _, _, _, at),) = con.execute(plan.new_content.sql("duckdb")).fetchall()
    assert at == BASE


def test_dry_run_counts_and_previews_what_the_real_run_would_load(
    con: duckdb.DuckDBPyConnection,
) -> None:
    s = _semantics(IngestMode.UPSERT)
    v1 = _apply(con, s, 0, [(1, "a", 0, BASE), (2, "a", 0, BASE)], BASE)
    day = timedelta(days=1)
    landed = [
        (1, "a", 0, BASE),  # already in bronze: dropped
        (1, "b", 0, BASE + timedelta(hours=2)),  # a newer version: enters
        (1, "b", 0, BASE + timedelta(hours=2)),  # delivered twice: dropped
        (3, "c", 0, BASE + timedelta(hours=3)),  # new key: enters
        (4, "d", 0, BASE + 3 * day),  # outside the range: not delivered by this replay
    ]
    _load_batch(con, landed)
    queries = dry_run_queries(
        s,
        relation("batch", "landing"),
        relation(f"v{v1}", "bronze__shadow"),
        BASE,
        BASE,
        BASE + day,
        1,
    )
    assert con.execute(queries.counts.sql("duckdb")).fetchall() == [(4, 2, 2)]
    ((key, *_),) = con.execute(queries.preview.sql("duckdb")).fetchall()
    assert key == 1
    rows_after_real_run = _apply(con, s, v1, [r for r in landed if r[3] < BASE + day], BASE)
    assert len(_rows(con, f"v{rows_after_real_run}")) == 3  # 2 before, 1 new key, 1 replaced


def _golden_cases() -> dict[str, str]:
    out = {}
    for mode in IngestMode:
        for resolution in ConflictResolution:
            s = _semantics(mode, 24, resolution)
            plan = plan_batch(
                s,
                relation("sale_order__batch_42", "landing", "acme-data"),
                relation("sale_order__v7", "bronze__shadow", "acme-data"),
                datetime(2026, 12, 1, 3, 0),
                relation("sale_order__v8", "bronze__shadow", "acme-data"),
            )
            for part, sql in plan.sql("bigquery").items():
                if sql is not None:
                    out[f"{mode.value}_{resolution.value}_{part}"] = sql
        dry = dry_run_queries(
            _semantics(mode, 24),
            relation("sale_order__landed", "landing", "acme-data"),
            relation("sale_order__v7", "bronze__shadow", "acme-data"),
            datetime(2026, 12, 1, 3, 0),
            datetime(2026, 11, 1),
            datetime(2026, 11, 8),
        )
        out[f"{mode.value}_dry_run_counts"] = dry.counts.sql("bigquery")
        out[f"{mode.value}_dry_run_preview"] = dry.preview.sql("bigquery")
    return out


GOLDEN_CASES = _golden_cases()


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_bigquery_text_is_golden_and_parses_back_unchanged(name: str) -> None:
    sql = GOLDEN_CASES[name]
    assert sqlglot.parse_one(sql, read="bigquery").sql(dialect="bigquery") == sql
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("SPYNE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql + ";\n", encoding="utf-8")
    assert path.is_file(), f"no golden file {path}; run with SPYNE_UPDATE_GOLDEN=1"
    assert sql + ";\n" == path.read_text(encoding="utf-8")


def test_every_golden_file_is_a_statement_spyne_generates() -> None:
    assert {p.stem for p in GOLDEN.glob("*.sql")} == set(GOLDEN_CASES)
