"""Bronze by contract on BigQuery (fake client, no cloud): dlt lands into a local staging file,
only the new batch goes to BigQuery (a load job), the contract's semantics run there as BigQuery
SQL, and the version is a zero-copy clone of the previous one plus a MERGE (upsert) or a load
(append). First load, an incremental load after `spyne sample advance` that takes exactly the
new and changed rows, a conflict refused with its keys, READ_ONLY refused, a build killed before registration taken
again, a backfill estimated and loaded, and every statement sent parses in BigQuery's dialect."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot
from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.ingestion.bronze import BronzeIngest, contract_for
from orchestration.ingestion.contracts import register_shipped
from orchestration.ingestion.replay import Replays
from orchestration.ingestion.runner import LANDING_FILE, landing_for
from orchestration.sample.advance import advance
from orchestration.sample.generator import generate
from orchestration.sources import read_source_rows
from orchestration.warehouse.bigquery_warehouse import STAGED_PREFIX
from policies.dry_runs import RunArguments, RunKind
from policies.errors import ModeRefused
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from tests.bigquery_fake import FakeBigQueryClient
from tests.bigquery_fake.state import FakeTable
from tests.integration.test_bronze_ingest import refused_conflict
from tests.warehouse_support import adapter

LOADED = "_spyne_loaded_at"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SHADOW = "bronze__shadow"


@dataclass
class Site:
    catalog: Catalog
    ingest_runner: BronzeIngest
    fake: FakeBigQueryClient
    source: Path
    admin: Actor

    def ingest(self, table: str, at: datetime = T0) -> Any:
        self.ingest_runner._clock = lambda: at
        contract = contract_for(self.catalog, TableRef(Layer.BRONZE, table))
        return self.ingest_runner.ingest(self.admin, contract, None)

    def table(self, table: str, version: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        found = self.fake.state.tables[(SHADOW, f"{table}__v{version}")]
        found = self.fake.state.resolve(found)
        return found.names, found.rows

    def rows(self, table: str, version: int, stamped: datetime | None = None) -> list[Any]:
        """The version's rows without the processing time (only those stamped ``stamped``)."""
        names, rows = self.table(table, version)
        at = names.index(LOADED)
        kept = [r for r in rows if stamped is None or _naive(r[at]) == _naive(stamped)]
        return sorted(tuple(_naive(v) for i, v in enumerate(r) if i != at) for r in kept)


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    source = tmp_path / "erp.duckdb"
    generate(source, lines=400, seed=2)
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    register_shipped(catalog)
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    bq = adapter("bigquery", tmp_path, catalog.engine)
    assert bq.fake is not None
    landing = landing_for(bq.warehouse, tmp_path)
    assert landing.path == tmp_path / LANDING_FILE
    runner = BronzeIngest(catalog, bq.warehouse, source, tmp_path / "dlt", landing=landing)
    try:
        yield Site(catalog, runner, bq.fake, source, Actor(admin))
    finally:
        catalog.dispose()


def latest_per_key(rows: pa.Table) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("t", rows)
    ties = ", ".join(f'"{c}" desc' for c in rows.column_names if c != "write_date")
    found = con.execute(
        "select * from t qualify row_number() over "
        f"(partition by id order by write_date desc, {ties}) = 1"
    ).fetchall()
    return sorted(found)


def _statements(fake: FakeBigQueryClient, start: int = 0) -> list[exp.Expr]:
    """Every query sent since ``start``, parsed back as BigQuery reads it."""
    return [
        sqlglot.parse_one(r.sql or "", read="bigquery")
        for r in fake.requests[start:]
        if r.method == "query"
    ]


def test_first_and_incremental_loads_cost_the_batch_on_bigquery(site: Site) -> None:
    v1, _, first = site.ingest("sale_order", T0)
    before = latest_per_key(read_source_rows(site.source, "sale_order"))
    assert site.rows("sale_order", v1.version) == before
    assert first.accepted == len(before)

    summary = advance(site.source, 3, seed=8)
    assert summary.late_orders > 0
    t1 = T0 + timedelta(days=3)
    start = len(site.fake.requests)
    v2, manifest, second = site.ingest("sale_order", t1)
    after = latest_per_key(read_source_rows(site.source, "sale_order"))
    assert site.rows("sale_order", v2.version) == after
    changed = sorted(set(after) - set(before))
    assert site.rows("sale_order", v2.version, stamped=t1) == changed
    assert second.accepted == len(changed) and second.base_version == v1.version
    assert site.rows("sale_order", v1.version) == before, "version 1 is untouched"
    audited = [e for e in site.catalog.list_audit() if e.action == "ingest_version"]
    assert {(e.details["version"], e.details["rows_accepted"]) for e in audited} >= {
        (v2.version, len(changed))
    }
    assert any(e.action == "land" and e.actor == "ada" for e in site.catalog.list_audit())

    # what went to BigQuery: the batch (a load job), the semantics as a query, a clone, a MERGE
    sent = site.fake.requests[start:]
    loads = [r for r in sent if r.method == "load"]
    assert {r.destination for r in loads} == {
        f"{site.fake.project}.{SHADOW}.{STAGED_PREFIX}sale_order",
        f"{site.fake.project}.{SHADOW}.sale_order__v2__batch",
    }
    parsed = _statements(site.fake, start)
    assert any(isinstance(p, exp.Create) and p.args.get("clone") for p in parsed)
    assert any(isinstance(p, exp.Merge) for p in parsed)
    ran = [r for r in sent if r.method == "query" and not r.dry_run]
    assert all(r.maximum_bytes_billed and r.labels.get("principal") == "ada" for r in ran)
    # nothing staged is left behind
    assert not [n for (d, n) in site.fake.state.tables if n.startswith(STAGED_PREFIX)]
    assert not [n for (d, n) in site.fake.state.tables if n.endswith("__batch")]

    # nothing new at the source: the same content, not one row more
    _, again, third = site.ingest("sale_order", t1 + timedelta(hours=1))
    assert third.accepted == 0 and again.content_hash == manifest.content_hash

    # append: every distinct event once, however often the lag re-reads it
    p1, _, _ = site.ingest("account_payment", t1)
    payments = read_source_rows(site.source, "account_payment")
    con = duckdb.connect()
    con.register("t", payments)
    distinct = sorted(con.execute("select distinct * from t").fetchall())
    assert site.rows("account_payment", p1.version) == distinct
    p2, _, _ = site.ingest("account_payment", t1 + timedelta(hours=1))
    assert site.rows("account_payment", p2.version) == distinct

    # every statement sent parses in BigQuery's dialect and renders back unchanged
    for request in site.fake.queries():
        sql = request.sql or ""
        assert sqlglot.parse_one(sql, read="bigquery").sql("bigquery") == sql


def test_a_conflict_is_refused_with_its_keys_and_read_only_refuses(
    site: Site, tmp_path: Path
) -> None:
    v1 = refused_conflict(site, tmp_path, T0)
    assert [v.version for v in site.catalog.list_versions("bronze.sale_order")] == [v1.version]
    assert set(site.ingest_runner.warehouse.versions(TableRef(Layer.BRONZE, "sale_order"))) == {
        v1.version
    }
    assert not [n for (d, n) in site.fake.state.tables if n.startswith(STAGED_PREFIX)]

    site.catalog.set_mode(SystemMode.READ_ONLY, "ada")
    sent = len(site.fake.requests)
    with pytest.raises(ModeRefused):
        site.ingest("res_partner")
    assert len(site.fake.requests) == sent, "nothing was sent to BigQuery"


class Killed(BaseException):
    """Stands in for a kill: no handler of Spyne's catches it."""


def test_killed_before_registration_then_run_again_takes_the_same_rows(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, _, _ = site.ingest("sale_order", T0)
    advance(site.source, 3, seed=8)
    t1 = T0 + timedelta(days=3)

    def killed(*args: Any, **kwargs: Any) -> None:
        raise Killed

    # the version is written and its ledger row recorded, but the catalog never registers it
    monkeypatch.setattr(site.ingest_runner.builds, "register_build", killed)
    with pytest.raises(Killed):
        site.ingest("sale_order", t1)
    monkeypatch.undo()
    ref = TableRef(Layer.BRONZE, "sale_order")
    leftover = max(site.ingest_runner.warehouse.versions(ref))
    assert [v.version for v in site.catalog.list_versions(ref.canonical)] == [v1.version]
    # a kill inside the next upsert's jobs would leave its loaded batch and staged rows too
    _, rows = site.table("sale_order", v1.version)
    typed = site.fake.state.tables[(SHADOW, f"sale_order__v{v1.version}")].columns
    for name in (f"sale_order__v{leftover + 1}__batch", f"{STAGED_PREFIX}sale_order"):
        site.fake.state.tables[(SHADOW, name)] = FakeTable(
            SHADOW, name, "BASE TABLE", list(typed), list(rows[:3])
        )

    v2, _, again = site.ingest("sale_order", t1)
    assert v2.version == leftover + 1 and again.base_version == v1.version
    after = latest_per_key(read_source_rows(site.source, "sale_order"))
    assert site.rows("sale_order", v2.version) == after
    assert again.accepted == len(site.rows("sale_order", v2.version, stamped=t1)) > 0
    assert not [n for (_, n) in site.fake.state.tables if n.endswith("__batch")]


def test_a_backfill_estimates_and_loads_its_range_on_bigquery(site: Site) -> None:
    site.ingest("sale_order")
    before = read_source_rows(site.source, "sale_order")
    newest = max(before["write_date"].to_pylist())
    advance(site.source, 2, seed=5)
    replays = Replays(site.ingest_runner)
    end = datetime(2100, 1, 1, tzinfo=UTC)
    span = RunArguments(RunKind.BACKFILL, "erp_sale_order", newest.replace(tzinfo=UTC), end, 50)
    start = len(site.fake.requests)
    info, estimate = replays.dry_run(site.admin, span)
    after = read_source_rows(site.source, "sale_order")
    in_range = [w for w in after["write_date"].to_pylist() if w >= newest]
    assert estimate.delivered == len(in_range) and estimate.accepted > 0 and estimate.preview
    assert any(r.labels.get("action") == "ingest" for r in site.fake.requests[start:])
    result = replays.run(site.admin, span, info.record.dry_run_id, "bq-backfill")
    expected = pa.concat_tables(
        [before, after.filter(pc.greater_equal(after["write_date"], newest))]
    )
    assert site.rows("sale_order", result.versions[-1]) == latest_per_key(expected)
    assert len(result.versions) == -(-len(in_range) // 50)
