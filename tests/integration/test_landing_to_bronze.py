"""From the source to an upserted bronze version: land with dlt, upsert each batch's new rows;
after `spyne sample advance` the new version is the source's latest row per key, and a load
killed in the middle and run again gives the same bronze content hash."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.extraction import ExtractSpec, land
from orchestration.extraction.landing import new_rows
from orchestration.sample.advance import advance
from orchestration.sample.generator import generate
from orchestration.sources import read_source_rows
from orchestration.warehouse import DuckDBWarehouse
from orchestration.warehouse.upserts import UpsertKeys
from policies.naming import Layer, TableRef
from tests.kill_support import kill_when_stalled

TABLE = "sale_order"
SPEC = ExtractSpec(TABLE, "write_date", timedelta(days=1))
KEYS = UpsertKeys(("id",), "write_date")
REF = TableRef(Layer.BRONZE, TABLE)


def latest_per_key(rows: pa.Table) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.register("t", rows)
    order = ", ".join(f'"{c}" desc' for c in rows.column_names if c != "write_date")
    return con.execute(
        f"select * from t qualify row_number() over (partition by id order by write_date desc, {order}) = 1 order by id"
    ).fetchall()


def upsert_landed(warehouse: DuckDBWarehouse, version: int, load_ids: tuple[str, ...]) -> None:
    with duckdb.connect(str(warehouse.path)) as con:
        batch = new_rows(con, TABLE, SPEC, load_ids)
    warehouse.upsert_version(REF, version, batch, keys=KEYS, base_version=version - 1 or None)


def bronze(warehouse: DuckDBWarehouse, version: int) -> list[tuple[object, ...]]:
    return warehouse.query(f"select * from bronze__shadow.{TABLE}__v{version} order by id")


def test_bronze_follows_the_source_through_an_advance(tmp_path: Path) -> None:
    source = tmp_path / "erp.duckdb"
    generate(source, lines=400, seed=2)
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.create()
    first = land(source, SPEC, warehouse.path, tmp_path / "dlt")
    upsert_landed(warehouse, 1, first.load_ids)
    assert bronze(warehouse, 1) == latest_per_key(read_source_rows(source, TABLE))
    advance(source, 3, seed=8)
    second = land(source, SPEC, warehouse.path, tmp_path / "dlt")
    upsert_landed(warehouse, 2, second.load_ids)
    assert bronze(warehouse, 2) == latest_per_key(read_source_rows(source, TABLE))
    assert bronze(warehouse, 1) != bronze(warehouse, 2), "version 1 is untouched by version 2"


_KILLED = """
import sys, time
from datetime import timedelta
from pathlib import Path
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from orchestration.extraction import ExtractSpec, land

real_run = DuckDbCopyJob.run
def run(self):
    real_run(self)
    if "sale_order" in self._file_path:
        print("stalled", flush=True)
        time.sleep(120)
DuckDbCopyJob.run = run
land(Path(sys.argv[1]), ExtractSpec("sale_order", "write_date", timedelta(days=1)), Path(sys.argv[2]), Path(sys.argv[3]))
"""


def test_a_load_killed_mid_way_then_run_again_gives_the_same_bronze(tmp_path: Path) -> None:
    source = tmp_path / "erp.duckdb"
    generate(source, lines=400, seed=2)
    hashes = []
    for name, killed in (("calm", False), ("killed", True)):
        warehouse = DuckDBWarehouse(tmp_path / name / "warehouse.duckdb")
        warehouse.path.parent.mkdir()
        warehouse.create()
        work = tmp_path / name / "dlt"
        if killed:
            kill_when_stalled(_KILLED, str(source), str(warehouse.path), str(work))
        report = land(source, SPEC, warehouse.path, work)
        with duckdb.connect(str(warehouse.path)) as con:
            ids = tuple(
                str(i)
                for (i,) in con.execute(
                    "select load_id from landing._dlt_loads where status = 0 order by load_id"
                ).fetchall()
            )
        assert report.load_ids[-1] in ids
        upsert_landed(warehouse, 1, ids)
        hashes.append(warehouse.manifest(REF, 1).content_hash)
    assert hashes[0] == hashes[1]
