"""BigQuery's own guarantees, checked on every request the adapter sends (fake client, no cloud):
a dry run before each query, the byte cap refused before a job starts and set on the job, labels
that say who scanned what, zero-copy clones, and typed errors that leave nothing half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from sqlglot import exp

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.lifecycle.service import TableService
from orchestration.warehouse import acting_as
from orchestration.warehouse.bigquery_jobs import MAX_LABEL_LENGTH, label_value
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.errors import SpyneError
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Role
from tests.bigquery_fake import FakeBigQueryClient
from tests.warehouse_support import KINDS, MAX_BYTES, Adapter, adapter

REF = TableRef(Layer.GOLD, "kpis")
ROWS = pa.table({"id": [1, 2, 3], "amount": [2.0, 4.0, 6.0]})


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    c.upgrade()
    c.create_principal("ada", Role.ADMIN, created_by="test")
    c.set_mode(SystemMode.INGESTION_READY, "ada")
    yield c
    c.dispose()


@pytest.fixture
def bq(tmp_path: Path, catalog: Catalog) -> Adapter:
    return adapter("bigquery", tmp_path, catalog.engine)


def _wh(bq: Adapter) -> BigQueryWarehouse:
    assert isinstance(bq.warehouse, BigQueryWarehouse)
    return bq.warehouse


def _fake(bq: Adapter) -> FakeBigQueryClient:
    assert bq.fake is not None
    return bq.fake


def _admin(catalog: Catalog) -> Actor:
    return Actor(next(p for p in catalog.list_principals() if p.name == "ada"))


def test_every_query_is_dry_run_first_then_capped_and_labelled(
    bq: Adapter, catalog: Catalog
) -> None:
    svc = TableService(catalog, bq.warehouse, PublishingPolicy())
    admin = _admin(catalog)
    for rows in (3, 5):
        version = svc.allocate_version(admin, REF)
        with acting_as(admin.name):  # what ingestion does around its load
            bq.warehouse.create_version_from_rows(REF, version, pa.table({"id": list(range(rows))}))
        svc.register_build(admin, REF, version, None)
        catalog.record_gate(REF.canonical, version, "passed", actor="ada")
        svc.promote(admin, REF.canonical, version)
    svc.rollback(admin, REF.canonical)
    svc.examine(admin)

    requests = _fake(bq).requests
    ran = [i for i, r in enumerate(requests) if r.method == "query" and not r.dry_run]
    assert len(ran) >= 10
    for i in ran:
        job, dry = requests[i], requests[i - 1]
        assert dry.dry_run and dry.sql == job.sql and dry.labels == job.labels, job.sql
        assert job.maximum_bytes_billed == MAX_BYTES
        assert job.location == dry.location == "EU"
        assert job.labels["app"] == "spyne" and job.labels["action"]
        assert job.labels.get("principal") in ("ada", "system_recovery"), job
    swaps = [requests[i] for i in ran if requests[i].labels["action"] == "point_view"]
    assert [(s.labels["table"], s.labels["version"]) for s in swaps] == [
        ("kpis", "1"),
        ("kpis", "2"),
        ("kpis", "1"),
    ]
    assert all(s.sql and s.sql.startswith("CREATE OR REPLACE VIEW") for s in swaps)
    hashes = [requests[i] for i in ran if requests[i].labels["action"] == "manifest"]
    assert len(hashes) == 2 and all("FARM_FINGERPRINT" in (h.sql or "") for h in hashes)
    loads = [r for r in requests if r.method == "load"]
    assert [(r.labels["principal"], r.labels["version"]) for r in loads] == [
        ("ada", "1"),
        ("ada", "2"),
    ]


def test_a_query_over_the_cap_is_refused_before_it_runs(bq: Adapter, catalog: Catalog) -> None:
    svc = TableService(catalog, bq.warehouse, PublishingPolicy())
    admin = _admin(catalog)
    version = svc.allocate_version(admin, REF)
    bq.warehouse.create_version_from_rows(REF, version, ROWS)
    _fake(bq).scan_bytes[(REF.shadow_schema, REF.version_identifier(version))] = MAX_BYTES + 1
    sent = len(_fake(bq).requests)
    with pytest.raises(SpyneError) as refused:
        svc.register_build(admin, REF, version, None)
    assert refused.value.code == "cost_limit_exceeded"
    assert refused.value.details["estimated_bytes"] == MAX_BYTES + 1
    assert "SPYNE_BQ_MAX_BYTES" in refused.value.message
    after = _fake(bq).requests[sent:]
    manifest = [r for r in after if r.labels.get("action") == "manifest"]
    assert [r.dry_run for r in manifest] == [True], "the hash query never ran"
    assert catalog.list_versions(REF.canonical) == [], "nothing was registered"


def test_bigquery_stops_a_job_whose_dry_run_was_wrong(bq: Adapter) -> None:
    bq.warehouse.create_version_from_rows(REF, 1, ROWS)
    fake = _fake(bq)
    fake.scan_bytes[(REF.shadow_schema, REF.version_identifier(1))] = MAX_BYTES * 2
    fake.dry_run_answer = 1  # the estimate says "cheap"; maximum_bytes_billed still holds
    with pytest.raises(SpyneError) as stopped:
        bq.warehouse.manifest(REF, 1)
    assert stopped.value.code == "cost_limit_exceeded"
    assert "stopped by BigQuery" in stopped.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_the_read_entry_point_refuses_statements_that_write(
    kind: str, tmp_path: Path, catalog: Catalog
) -> None:
    used = adapter(kind, tmp_path, catalog.engine)
    used.warehouse.create_version_from_rows(REF, 1, ROWS)
    writes = [
        exp.insert(exp.select("1"), "gold__shadow.kpis__v1"),
        exp.select("*").from_(exp.Subquery(this=exp.Drop(kind="TABLE", this=exp.to_table("x")))),
    ]
    for statement in writes:
        with pytest.raises(SpyneError) as refused:
            used.warehouse.profile(statement)  # type: ignore[arg-type]
        assert refused.value.code == "validation_failed"
    counted = used.warehouse.profile(
        exp.select(exp.func("count", exp.Star())).from_("gold__shadow.kpis__v1")
    )
    assert [tuple(int(str(v)) for v in row) for row in counted] == [(3,)]


def test_estimate_is_a_dry_run_only(bq: Adapter) -> None:
    bq.warehouse.create_version_from_rows(REF, 1, ROWS)
    sent = len(_fake(bq).requests)
    estimate = bq.warehouse.estimate(exp.select("*").from_("gold__shadow.kpis__v1"))
    assert estimate.bytes_processed == 3 * 2 * 8 and estimate.max_bytes_billed == MAX_BYTES
    assert estimate.within_cap
    (request,) = _fake(bq).requests[sent:]
    assert request.dry_run and request.labels["action"] == "estimate"


def test_a_version_built_on_the_previous_one_is_a_zero_copy_clone(bq: Adapter) -> None:
    with acting_as("ingestion@acme"):
        bq.warehouse.create_version_from_rows(REF, 1, ROWS)
        bq.warehouse.create_version_from_rows(
            REF, 2, pa.table({"id": [4], "amount": [8.0]}), base_version=1
        )
    fake = _fake(bq)
    clone = [r for r in fake.queries(dry_run=False) if r.labels["action"] == "clone_version"]
    assert [r.sql for r in clone] == [
        "CREATE TABLE `spyne-test`.`gold__shadow`.`kpis__v2` "
        "CLONE `spyne-test`.`gold__shadow`.`kpis__v1`"
    ]
    loads = [r for r in fake.requests if r.method == "load"]
    assert [(r.destination, r.write_disposition) for r in loads] == [
        ("spyne-test.gold__shadow.kpis__v1", "WRITE_EMPTY"),
        ("spyne-test.gold__shadow.kpis__v2", "WRITE_APPEND"),
    ]
    assert {r.labels["principal"] for r in loads} == {"ingestion_acme"}
    assert bq.warehouse.manifest(REF, 2).row_count == 4
    assert bq.warehouse.manifest(REF, 1).row_count == 3, "the base version is untouched"


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_append_leaves_no_half_built_version(
    kind: str, tmp_path: Path, catalog: Catalog
) -> None:
    used = adapter(kind, tmp_path, catalog.engine)
    used.warehouse.create_version_from_rows(REF, 1, ROWS)
    with pytest.raises(Exception):  # noqa: B017 - each warehouse words a schema mismatch its own way
        used.warehouse.create_version_from_rows(REF, 2, pa.table({"other": ["x"]}), base_version=1)
    assert used.warehouse.versions(REF) == [1]


@pytest.mark.parametrize("kind", KINDS)
def test_swapping_to_a_missing_version_is_not_found(
    kind: str, tmp_path: Path, catalog: Catalog
) -> None:
    used = adapter(kind, tmp_path, catalog.engine)
    used.warehouse.create_version_from_rows(REF, 1, ROWS)
    used.warehouse.point_view(REF, 1)
    for act in (lambda: used.warehouse.point_view(REF, 7), lambda: used.warehouse.manifest(REF, 7)):
        with pytest.raises(SpyneError) as missing:
            act()
        assert missing.value.code == "not_found" and missing.value.details["version"] == 7
    assert used.warehouse.view_version(REF) == 1, "the view still shows what it showed"
    with pytest.raises(SpyneError) as exists:
        used.warehouse.create_version(REF, 1, exp.select("*").from_("gold__shadow.kpis__v1"))
    assert exists.value.code == "invalid_transition"


@pytest.mark.parametrize("kind", KINDS)
def test_content_hash_depends_on_rows_not_their_order(
    kind: str, tmp_path: Path, catalog: Catalog
) -> None:
    used = adapter(kind, tmp_path, catalog.engine)
    used.warehouse.create_version_from_rows(REF, 1, ROWS)
    used.warehouse.create_version_from_rows(REF, 2, ROWS.take([2, 0, 1]))
    used.warehouse.create_version_from_rows(REF, 3, ROWS.take([0, 1, 2, 2]))
    first, reordered, duplicated = (used.warehouse.manifest(REF, v) for v in (1, 2, 3))
    assert first.content_hash == reordered.content_hash
    assert duplicated.content_hash != first.content_hash and duplicated.row_count == 4


def test_hashes_are_comparable_within_one_warehouse_kind_only(
    tmp_path: Path, catalog: Catalog
) -> None:
    duck = adapter("duckdb", tmp_path, catalog.engine).warehouse
    big = adapter("bigquery", tmp_path, catalog.engine).warehouse
    for warehouse in (duck, big):
        warehouse.create_version_from_rows(REF, 1, ROWS)
    assert duck.manifest(REF, 1).content_hash != big.manifest(REF, 1).content_hash


def test_datasets_are_created_once_per_process_in_the_configured_location(bq: Adapter) -> None:
    for version in (1, 2, 3):
        bq.warehouse.create_version_from_rows(REF, version, ROWS)
    created = [
        r.sql for r in _fake(bq).queries(dry_run=False) if r.labels["action"] == "create_dataset"
    ]
    assert created == ["CREATE SCHEMA IF NOT EXISTS `spyne-test`.`gold__shadow`"]
    assert bq.warehouse.create(), "the other layers' datasets were missing"
    assert not bq.warehouse.create(), "nothing left to create"


def test_label_values_follow_bigquery_rules() -> None:
    assert label_value("Ada.Lovelace@ACME") == "ada_lovelace_acme"
    assert label_value("schedule:daily-run_2") == "schedule_daily-run_2"
    assert len(label_value("x" * 200)) == MAX_LABEL_LENGTH


@pytest.mark.parametrize("kind", KINDS)
def test_ingest_lands_a_read_only_source_table(kind: str, tmp_path: Path, catalog: Catalog) -> None:
    import duckdb

    source = tmp_path / "erp_source.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute(
            "create table partners as select range as id, 'p' || range as name from range(7)"
        )
    used = adapter(kind, tmp_path, catalog.engine)
    svc = TableService(catalog, used.warehouse, PublishingPolicy())
    bronze = TableRef(Layer.BRONZE, "partners")
    info, manifest = svc.ingest(_admin(catalog), bronze, source, "partners", None)
    assert (info.version, manifest.row_count) == (1, 7)
    assert [c.name for c in manifest.schema] == ["id", "name"]
    with pytest.raises(SpyneError) as missing:
        svc.ingest(_admin(catalog), bronze, tmp_path / "nope.duckdb", "partners", None)
    assert missing.value.code == "not_found"
    if used.fake is not None:
        (load,) = [r for r in used.fake.requests if r.method == "load"]
        assert load.destination == "spyne-test.bronze__shadow.partners__v1"
        assert load.labels["principal"] == "ada"
