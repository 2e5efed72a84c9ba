"""Bronze by contract, end to end: dlt lands the new batch, the contract's semantics decide what
enters, a new version is registered. Incremental after `spyne sample advance` (exactly the new
and changed rows, late rows included), repeats never duplicate, a conflict under `error` refuses
and writes nothing, READ_ONLY refuses, an unsafe contract ingests with an audited warning, and a
process killed mid-way then run again gives the bronze of an uninterrupted run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml
from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.ingestion.bronze import BronzeIngest, contract_for
from orchestration.ingestion.contracts import CONTRACTS_DIR, register_file, register_shipped
from orchestration.sample.advance import advance
from orchestration.sample.generator import generate, generate_postgres
from orchestration.sources import PostgresSource, SourceLocation, read_source_rows
from orchestration.warehouse import DuckDBWarehouse, version_table
from policies.errors import IngestConflict, ModeRefused, PermissionDenied
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from tests.kill_support import kill_when_stalled
from tests.pg import PgRoles

LOADED = "_spyne_loaded_at"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Site:
    catalog: Catalog
    warehouse: DuckDBWarehouse
    source: SourceLocation
    work: Path
    admin: Actor
    analyst: Actor

    def ingest(self, table: str, at: datetime = T0) -> Any:
        runner = BronzeIngest(self.catalog, self.warehouse, self.source, self.work, lambda: at)
        return runner.ingest(self.admin, contract_for(self.catalog, bronze(table)), None)

    def rows(self, table: str, version: int) -> list[tuple[Any, ...]]:
        return self.warehouse.query(_unstamped(table, version).sql("duckdb"))

    def stamped(self, table: str, version: int, at: datetime) -> list[tuple[Any, ...]]:
        at_load = exp.column(LOADED).eq(exp.Placeholder())
        return self.warehouse.query(
            _unstamped(table, version).where(at_load).sql("duckdb"), [at.replace(tzinfo=None)]
        )


def _unstamped(table: str, version: int) -> exp.Select:
    """A bronze version's rows without the load stamp, in a stable order."""
    every_column = exp.Star(except_=[exp.column(LOADED)])
    return (
        exp.select(every_column)
        .from_(version_table(bronze(table), version))
        .order_by(exp.var("ALL"))
    )


def bronze(table: str) -> TableRef:
    return TableRef(Layer.BRONZE, table)


def make_site(root: Path, source: SourceLocation) -> Site:
    catalog = Catalog(f"sqlite:///{root}/catalog.db")
    catalog.upgrade()
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    analyst, _ = catalog.create_principal("ana", Role.ANALYST, created_by="ada")
    register_shipped(catalog)
    warehouse = DuckDBWarehouse(root / "warehouse.duckdb")
    warehouse.create()
    return Site(catalog, warehouse, source, root / "dlt", Actor(admin), Actor(analyst))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> SourceLocation:
    if request.param == "duckdb":
        path = tmp_path / "erp.duckdb"
        generate(path, lines=400, seed=2)
        return path
    roles: PgRoles = request.getfixturevalue("pg_roles")
    pg = PostgresSource(roles.owner_url)
    generate_postgres(pg, lines=400, seed=2)
    return pg


@pytest.fixture
def site(tmp_path: Path, source: SourceLocation) -> Iterator[Site]:
    s = make_site(tmp_path, source)
    s.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    try:
        yield s
    finally:
        s.catalog.dispose()


def latest_per_key(rows: pa.Table) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("t", rows)
    ties = ", ".join(f'"{c}" desc' for c in rows.column_names if c != "write_date")
    return con.execute(
        "select * from t qualify row_number() over "
        f"(partition by id order by write_date desc, {ties}) = 1 order by all"
    ).fetchall()


def distinct_rows(rows: pa.Table) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("t", rows)
    return con.execute("select distinct * from t order by all").fetchall()


def test_incremental_loads_follow_the_source_through_an_advance(site: Site) -> None:
    v1, _, _ = site.ingest("sale_order", T0)
    before = latest_per_key(read_source_rows(site.source, "sale_order"))
    assert site.rows("sale_order", v1.version) == before

    summary = advance(site.source, 3, seed=8)
    assert summary.late_orders > 0  # rows written before ones the source already held
    t1 = T0 + timedelta(days=3)
    v2, manifest, second = site.ingest("sale_order", t1)
    after = latest_per_key(read_source_rows(site.source, "sale_order"))
    assert site.rows("sale_order", v2.version) == after
    # exactly the new and changed rows were loaded (stamped by this load), late ones included
    changed = sorted(set(after) - set(before))
    assert site.stamped("sale_order", v2.version, t1) == changed
    assert second.accepted == len(changed) and second.base_version == v1.version
    assert site.rows("sale_order", v1.version) == before, "version 1 is untouched"

    # nothing new at the source: a new version with the same content, not one row more
    _, again, third = site.ingest("sale_order", t1 + timedelta(hours=1))
    assert third.accepted == 0 and again.content_hash == manifest.content_hash

    # append: every distinct event once, however often the lag re-reads it
    p1, _, _ = site.ingest("account_payment", t1)
    payments = read_source_rows(site.source, "account_payment")
    assert site.rows("account_payment", p1.version) == distinct_rows(payments)
    p2, _, _ = site.ingest("account_payment", t1 + timedelta(hours=1))
    assert site.rows("account_payment", p2.version) == distinct_rows(payments)


def _source_sql(source: SourceLocation, sql: str) -> None:
    assert isinstance(source, Path)
    with duckdb.connect(str(source)) as con:
        con.execute(sql)


@pytest.mark.parametrize("source", ["duckdb"], indirect=True)
def test_repeats_within_the_window_never_duplicate(site: Site) -> None:
    site.ingest("account_payment")
    newest = "(select max(write_date) + interval 1 hour from account_payment)"
    _source_sql(
        site.source,
        "insert into account_payment select * replace (id + 100000 as id, "
        f"{newest} as write_date) from account_payment order by id limit 1",
    )
    v2, _, b2 = site.ingest("account_payment", T0 + timedelta(hours=1))
    assert b2.accepted == 1
    # the source delivers the same row a second time: it never enters twice
    _source_sql(
        site.source, "insert into account_payment select * from account_payment where id > 100000"
    )
    v3, _, b3 = site.ingest("account_payment", T0 + timedelta(hours=2))
    assert b3.delivered == 1 and b3.accepted == 0
    assert site.rows("account_payment", v3.version) == site.rows("account_payment", v2.version)
    late = exp.column("id") > exp.Literal.number(100000)
    counted = site.warehouse.query(
        exp.select(exp.Count(this=exp.Star()))
        .from_(version_table(bronze("account_payment"), v3.version))
        .where(late)
        .sql("duckdb")
    )
    assert counted == [(1,)]


def _variant(tmp_path: Path, table: str, version: str, **semantics: Any) -> Path:
    document = yaml.safe_load((CONTRACTS_DIR / f"{table}.odcs.yaml").read_text())
    document["version"] = version
    sem = next(p for p in document["customProperties"] if p["property"] == "ingestion_semantics")
    columns = semantics.pop("columns", {})
    sem["value"].update(semantics)
    for prop in document["schema"][0]["properties"]:
        if prop["name"] in columns:
            prop["customProperties"] = [{"property": "default", "value": columns[prop["name"]]}]
    path = tmp_path / f"{table}-{version}.odcs.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def refused_conflict(site: Any, tmp_path: Path, at: datetime) -> Any:
    """Under ``conflict_resolution: error``, two versions of one key at one instant: the batch is
    refused with the key, audited; returns the version loaded before."""
    register_file(
        site.catalog, "ada", _variant(tmp_path, "sale_order", "2.0.0", conflict_resolution="error")
    )
    v1, _, _ = site.ingest("sale_order", at)
    newest = "(select max(write_date) + interval 1 hour from sale_order)"
    _source_sql(
        site.source,
        "insert into sale_order select o.* replace (900001 as id, state || s as state, "
        f"{newest} as write_date) from sale_order o, (values (''), ('x')) v(s) "
        "where o.id = (select min(id) from sale_order)",
    )
    with pytest.raises(IngestConflict) as refused:
        site.ingest("sale_order", at + timedelta(hours=1))
    assert refused.value.details["keys"][0]["id"] == 900001
    refusal = next(e for e in site.catalog.list_audit() if e.action == "ingest")
    assert refusal.outcome == "refused" and refusal.details["code"] == "ingest_conflict"
    return v1


@pytest.mark.parametrize("source", ["duckdb"], indirect=True)
def test_a_conflict_under_error_refuses_the_batch_and_writes_nothing(
    site: Site, tmp_path: Path
) -> None:
    v1 = refused_conflict(site, tmp_path, T0)
    audit = site.catalog.list_audit()
    built = next(e for e in audit if e.action == "ingest_version")
    assert built.outcome == "recorded" and built.details["version"] == v1.version
    assert [v.version for v in site.catalog.list_versions("bronze.sale_order")] == [v1.version]


@pytest.mark.parametrize("source", ["duckdb"], indirect=True)
def test_read_only_and_roles_refuse_and_an_unsafe_contract_ingests_with_a_warning(
    site: Site, tmp_path: Path
) -> None:
    runner = BronzeIngest(site.catalog, site.warehouse, site.source, site.work)
    contract = contract_for(site.catalog, bronze("res_partner"))
    with pytest.raises(PermissionDenied):
        runner.ingest(site.analyst, contract, None)
    site.catalog.set_mode(SystemMode.READ_ONLY, "ada")
    with pytest.raises(ModeRefused):
        runner.ingest(site.admin, contract, None)
    assert not site.warehouse.query(
        "select * from information_schema.schemata where schema_name = 'landing'"
    )
    site.catalog.set_mode(SystemMode.INGESTION_READY, "ada")

    unsafe = _variant(
        tmp_path,
        "res_partner",
        "2.0.0",
        unsafe_allow_processing_time=True,
        columns={"write_date": "now()"},
    )
    register_file(site.catalog, "ada", unsafe)
    info, _, batch = site.ingest("res_partner")
    assert info.row_count > 0 and batch.warnings
    warned = [e for e in site.catalog.list_audit() if e.action == "ingest_warning"]
    assert warned and warned[0].target == "bronze.res_partner"


@pytest.mark.parametrize("source", ["duckdb"], indirect=True)
def test_source_rows_without_event_time_are_named_not_lost_silently(site: Site) -> None:
    """The cursor cannot see a row without its event time: the load says so, and audits it."""
    _source_sql(
        site.source,
        "update sale_order set write_date = null where id in "
        "(select id from sale_order order by id limit 2)",
    )
    info, _, batch = site.ingest("sale_order")
    (warning,) = batch.warnings
    assert warning.startswith("2 rows of the source table sale_order have no write_date")
    warned = next(e for e in site.catalog.list_audit() if e.action == "ingest_warning")
    assert warned.target == "bronze.sale_order" and warned.details["warnings"] == [warning]
    source = read_source_rows(site.source, "sale_order").to_pylist()
    placed = {r["id"] for r in source if r["write_date"] is not None}
    assert {row[0] for row in site.rows("sale_order", info.version)} == placed


_KILLED = """
import sys, time
from datetime import datetime, UTC
from pathlib import Path
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.ingestion.bronze import BronzeIngest, contract_for
from orchestration.lifecycle.builds import Builds
from orchestration.warehouse import DuckDBWarehouse
from policies.naming import Layer, TableRef

def stall(*args, **kwargs):
    print("stalled", flush=True)
    time.sleep(120)

if sys.argv[4] == "load":
    real_run = DuckDbCopyJob.run
    def run(self):
        real_run(self)
        if "sale_order" in self._file_path:
            stall()
    DuckDbCopyJob.run = run
else:
    Builds.register_build = stall
catalog = Catalog(sys.argv[1])
admin = next(p for p in catalog.list_principals() if p.name == "ada")
ingest = BronzeIngest(catalog, DuckDBWarehouse(Path(sys.argv[2])), Path(sys.argv[3]), Path(sys.argv[5]))
ingest.ingest(Actor(admin), contract_for(catalog, TableRef(Layer.BRONZE, "sale_order")), None)
"""


@pytest.mark.slow
@pytest.mark.parametrize("source", ["duckdb"], indirect=True)
def test_killed_mid_load_or_mid_build_then_run_again_gives_the_same_bronze(
    source: SourceLocation, tmp_path: Path
) -> None:
    hashes = {}
    for name in ("calm", "load", "build"):
        root = tmp_path / name
        root.mkdir()
        s = make_site(root, source)
        s.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
        try:
            if name != "calm":
                kill_when_stalled(
                    _KILLED,
                    f"sqlite:///{root}/catalog.db",
                    str(s.warehouse.path),
                    str(source),
                    name,
                    str(s.work),
                )
                assert not any(s.catalog.list_versions(t.name) for t in s.catalog.list_tables())
            info, manifest, _ = s.ingest("sale_order")
            hashes[name] = manifest.content_hash
            assert s.rows("sale_order", info.version) == latest_per_key(
                read_source_rows(source, "sale_order")
            )
        finally:
            s.catalog.dispose()
    assert hashes["load"] == hashes["calm"] and hashes["build"] == hashes["calm"]
