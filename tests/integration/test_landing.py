"""dlt landing from both source kinds: incremental with a lag (late rows land), exactly the new
and changed rows after `spyne sample advance`, a cursor that survives restarts, and a process
killed at three instants of a load that, run again, lands what an uninterrupted run lands."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from orchestration.catalog import Catalog
from orchestration.extraction import ExtractSpec, land, landed_rows
from orchestration.extraction.landing import landed_changes, new_rows
from orchestration.extraction.service import land_table
from orchestration.identity import Actor
from orchestration.sample.advance import advance
from orchestration.sample.generator import generate, generate_postgres
from orchestration.sources import PostgresSource, SourceLocation, read_source_rows
from policies.errors import ModeRefused, PermissionDenied
from policies.modes import SystemMode
from policies.roles import Role
from tests.pg import PgRoles

REPO = Path(__file__).resolve().parents[2]
TABLES = ("sale_order", "sale_order_line", "res_partner")


def spec(table: str) -> ExtractSpec:
    return ExtractSpec(table, "write_date", timedelta(days=1))


def multiset(rows: pa.Table) -> pa.Table:
    return rows.sort_by([(c, "ascending") for c in rows.column_names])


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> SourceLocation:
    if request.param == "duckdb":
        path = tmp_path / "erp.duckdb"
        generate(path, lines=400, seed=1)
        return path
    roles: PgRoles = request.getfixturevalue("pg_roles")
    pg = PostgresSource(roles.owner_url)
    generate_postgres(pg, lines=400, seed=1)
    return pg


def test_after_an_advance_exactly_the_new_and_changed_rows_land(
    source: SourceLocation, tmp_path: Path
) -> None:
    warehouse, work = tmp_path / "warehouse.duckdb", tmp_path / "dlt"
    for table in TABLES:
        first = land(source, spec(table), warehouse, work)
        assert first.rows == read_source_rows(source, table).num_rows
    before = {t: read_source_rows(source, t) for t in TABLES}
    summary = advance(source, 2, seed=3)
    assert summary.late_orders > 0
    for table in TABLES:
        report = land(source, spec(table), warehouse, work)
        con = duckdb.connect()
        con.register("after", read_source_rows(source, table))
        con.register("before", before[table])
        changed = con.sql("select * from after except all select * from before").to_arrow_table()
        with duckdb.connect(str(warehouse)) as wh:
            landed = new_rows(wh, table, spec(table), report.load_ids)
        assert changed.num_rows > 0
        assert multiset(landed).equals(multiset(changed)), table


def test_the_cursor_survives_a_lost_working_directory(
    source: SourceLocation, tmp_path: Path
) -> None:
    warehouse, work = tmp_path / "warehouse.duckdb", tmp_path / "dlt"
    first = land(source, spec("sale_order"), warehouse, work)
    shutil.rmtree(work)  # a new machine, or a wiped home: the warehouse keeps the state
    again = land(source, spec("sale_order"), warehouse, work)
    assert again.cursor == first.cursor is not None
    assert again.rows < first.rows  # only the lag window is read again
    with duckdb.connect(str(warehouse)) as wh:
        assert new_rows(wh, "sale_order", spec("sale_order"), again.load_ids).num_rows == 0


_KILLED = """
import sys, time
from datetime import timedelta
from pathlib import Path

from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from dlt.pipeline.pipeline import Pipeline

from orchestration.extraction import ExtractSpec, land
from orchestration.sources import PostgresSource

def stall():
    print("stalled", flush=True)
    time.sleep(120)

instant = sys.argv[1]
if instant == "before_normalize":
    real_normalize = Pipeline.normalize
    def normalize(self, *a, **k):
        stall()
    Pipeline.normalize = normalize
else:
    real_run = DuckDbCopyJob.run
    def run(self):
        data = "sale_order_line" in self._file_path
        if data and instant == "before_insert":
            stall()
        real_run(self)
        if data and instant == "after_insert":
            stall()  # the rows are in the warehouse, the job not yet marked done
    DuckDbCopyJob.run = run
target, schema = sys.argv[2], sys.argv[3]
source = PostgresSource(target, schema) if target.startswith("postgresql") else Path(target)
land(source, ExtractSpec("sale_order_line", "write_date", timedelta(days=1)), Path(sys.argv[4]), Path(sys.argv[5]))
"""


@pytest.mark.parametrize("instant", ["before_normalize", "before_insert", "after_insert"])
def test_a_killed_load_run_again_lands_what_an_uninterrupted_one_does(
    source: SourceLocation, tmp_path: Path, instant: str
) -> None:
    table = "sale_order_line"
    calm, killed = tmp_path / "calm", tmp_path / "killed"
    land(source, spec(table), calm / "warehouse.duckdb", calm / "dlt")
    killed.mkdir()
    target = (
        [source.url, source.schema] if isinstance(source, PostgresSource) else [str(source), ""]
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_KILLED),
            instant,
            *target,
            str(killed / "warehouse.duckdb"),
            str(killed / "dlt"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "stalled"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    rerun = land(source, spec(table), killed / "warehouse.duckdb", killed / "dlt")
    if instant != "before_normalize":
        assert rerun.finished_pending, "the batch the killed run began to load is finished first"
    with (
        duckdb.connect(str(calm / "warehouse.duckdb")) as a,
        duckdb.connect(str(killed / "warehouse.duckdb")) as b,
    ):
        uninterrupted = landed_changes(a, table, spec(table))
        recovered = landed_changes(b, table, spec(table))
        if instant == "after_insert":  # the job's rows really were inserted twice...
            ((raw,),) = b.execute("select count(*) from landing.sale_order_line").fetchall()
            assert raw > landed_rows(b, table).num_rows
    assert uninterrupted.num_rows == read_source_rows(source, table).num_rows
    assert multiset(recovered).equals(multiset(uninterrupted))  # ...and are read once


def test_landing_acts_as_an_engineer_when_ingestion_is_allowed(
    source: SourceLocation, tmp_path: Path
) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    try:
        admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
        analyst, _ = catalog.create_principal("ana", Role.ANALYST, created_by="ada")
        args = (source, spec("res_partner"), tmp_path / "warehouse.duckdb", tmp_path / "dlt")
        with pytest.raises(ModeRefused):
            land_table(catalog, Actor(admin), *args)  # READ_ONLY until an admin says otherwise
        catalog.set_mode(SystemMode.INGESTION_READY, "ada")
        with pytest.raises(PermissionDenied):
            land_table(catalog, Actor(analyst), *args)
        assert not (tmp_path / "warehouse.duckdb").exists()
        report = land_table(catalog, Actor(admin), *args)
        assert report.rows > 0
        entry = next(e for e in catalog.list_audit() if e.action == "land")
        assert entry.target == "landing.res_partner" and entry.details["rows"] == report.rows
    finally:
        catalog.dispose()
