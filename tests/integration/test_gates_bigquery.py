"""The Great Expectations gate on BigQuery, without a cloud: the fake client answers.

The suite runs exactly as in prod: GE builds SQLAlchemy queries, ``sqlalchemy-bigquery`` renders
them in BigQuery's dialect, BigQuery's DB-API sends them through Spyne's gate client (a dry run,
then a capped and labelled job) to the fake client, which parses them with sqlglot's BigQuery
dialect and answers with DuckDB (``tests/bigquery_fake/sql.py``). The same suite on the same
rows in a DuckDB file must give the same verdicts and the same counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from great_expectations.core.expectation_suite import ExpectationSuite
from sqlglot import exp
from test_gates import CLEAN_ROWS, DIRTY_ROWS, NODE, TESTS, make_table

from orchestration.catalog import Catalog
from orchestration.gates import suites
from orchestration.gates.bigquery_datasource import BigQueryGateSource, gate_url
from orchestration.gates.results import GateResult
from orchestration.gates.runner import run_gate
from orchestration.gates.suites import MIN_ROWS_PARAMETER, suite_from_dbt_node, write_suite
from orchestration.gates.table_gate import gate_source_for, run_table_gate
from orchestration.identity import Actor
from orchestration.runtime import Runtime
from orchestration.warehouse import acting_as
from orchestration.warehouse.act_lock import catalog_act_lock
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.errors import ConfigError, CostLimitExceeded
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from policies.settings import settings_from_mapping
from tests.bigquery_fake import FakeBigQueryClient, Request

PROJECT = "spyne-test"
REF = TableRef(Layer.SILVER, "orders")
CAP = 10 * 1024**2
NO_FLOOR = {MIN_ROWS_PARAMETER: 0}


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    make_table(path, "orders__v1", CLEAN_ROWS)
    make_table(path, "orders__v2", DIRTY_ROWS)
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    c.upgrade()
    c.create_principal("builder", Role.ENGINEER, created_by="test")
    c.set_mode(SystemMode.INGESTION_READY, "test")
    yield c
    c.dispose()


def _warehouse(catalog: Catalog) -> BigQueryWarehouse:
    return BigQueryWarehouse(
        FakeBigQueryClient(PROJECT),
        project=PROJECT,
        location="EU",
        max_bytes=CAP,
        lock=catalog_act_lock(catalog.engine),
    )


def _load(warehouse: BigQueryWarehouse, duckdb_file: Path, source: int, version: int) -> None:
    """Copy a version of the DuckDB file the way ingestion loads one (a Parquet load job), so
    the column types are those BigQuery gives Arrow's."""
    con = duckdb.connect(str(duckdb_file), read_only=True)
    try:
        table = exp.table_(REF.version_identifier(source), db=REF.shadow_schema)
        rows = con.sql(exp.select("*").from_(table).sql("duckdb")).to_arrow_table()
    finally:
        con.close()
    warehouse.create_version_from_rows(REF, version, rows)


@pytest.fixture
def bigquery(duckdb_file: Path, catalog: Catalog) -> BigQueryWarehouse:
    """A BigQuery project whose silver.orders v1 and v2 hold the DuckDB file's rows."""
    warehouse = _warehouse(catalog)
    for version in (1, 2):
        _load(warehouse, duckdb_file, version, version)
    return warehouse


def _fake(warehouse: BigQueryWarehouse) -> FakeBigQueryClient:
    client = warehouse.jobs.client
    assert isinstance(client, FakeBigQueryClient)
    return client


@pytest.fixture
def suite() -> ExpectationSuite:
    return suite_from_dbt_node(NODE, TESTS)


def _gate(warehouse: BigQueryWarehouse, version: int, suite: ExpectationSuite) -> GateResult:
    with acting_as("builder"):
        source = BigQueryGateSource.of(warehouse, REF, version)
    fake = _fake(warehouse)
    fake.requests.clear()
    return run_gate(
        source, REF.shadow_schema, REF.version_identifier(version), suite, parameters=NO_FLOOR
    )


def _verdicts(result: GateResult) -> list[tuple[Any, ...]]:
    return [
        (o.expectation_type, o.column, o.success, o.observed_value, o.unexpected_count, o.message)
        for o in result.results
    ]


def _gate_queries(fake: FakeBigQueryClient) -> list[Request]:
    return [r for r in fake.requests if r.method == "query"]


def test_the_gate_url_names_the_project_and_the_shadow_dataset() -> None:
    assert gate_url(PROJECT, "silver__shadow") == (
        "bigquery://spyne-test/silver__shadow?user_supplied_client=true"
    )


@pytest.mark.parametrize("version", [1, 2])
def test_verdicts_and_counts_are_those_of_the_same_rows_in_duckdb(
    duckdb_file: Path, bigquery: BigQueryWarehouse, suite: ExpectationSuite, version: int
) -> None:
    table = REF.version_identifier(version)
    on_duckdb = run_gate(duckdb_file, REF.shadow_schema, table, suite, parameters=NO_FLOOR)
    on_bigquery = _gate(bigquery, version, suite)

    assert _verdicts(on_bigquery) == _verdicts(on_duckdb)
    assert on_bigquery.success == on_duckdb.success == (version == 1)
    assert on_bigquery.message == on_duckdb.message
    assert on_bigquery.refusal is None and on_bigquery.missing is None
    if version == 2:  # the dirty rows: exact counts, the duplicate count included
        counts = {(o.expectation_type, o.column): o.unexpected_count for o in on_bigquery.failures}
        assert counts == {
            ("expect_column_proportion_of_unique_values_to_be_between", "id"): 5,
            ("expect_column_values_to_not_be_null", "id"): 1,
            ("expect_column_values_to_not_be_null", "customer_id"): 2,
            ("expect_column_values_to_be_in_set", "status"): 3,
        }


def test_every_query_is_bigquery_sql_on_the_version_only(
    bigquery: BigQueryWarehouse, suite: ExpectationSuite
) -> None:
    _gate(bigquery, 2, suite)
    jobs = [r for r in _gate_queries(_fake(bigquery)) if not r.dry_run]
    assert len(jobs) >= len(suite.expectations) // 2
    for job in jobs:
        assert job.sql is not None
        statement = sqlglot.parse_one(job.sql, read="bigquery")  # raises on a syntax error
        assert isinstance(statement, exp.Query), job.sql
        tables = {(t.db, t.name) for t in statement.find_all(exp.Table)}
        assert tables == {(REF.shadow_schema, "orders__v2")}, job.sql
        named = {p.name for p in statement.find_all(exp.Parameter)}
        assert named == {p.name for p in job.parameters}, job.sql


def test_one_dry_run_then_one_capped_labelled_job_per_query(
    bigquery: BigQueryWarehouse, suite: ExpectationSuite
) -> None:
    _gate(bigquery, 1, suite)
    queries = _gate_queries(_fake(bigquery))
    labels = {
        "app": "spyne",
        "action": "gate",
        "layer": "silver",
        "table": "orders",
        "version": "1",
        "principal": "builder",
    }
    assert queries and len(queries) % 2 == 0
    for dry, job in zip(queries[::2], queries[1::2], strict=True):
        assert dry.dry_run and not job.dry_run
        assert (dry.sql, dry.parameters) == (job.sql, job.parameters)
        assert job.maximum_bytes_billed == CAP
        assert dry.labels == job.labels == labels
        assert dry.location == job.location == "EU"


def test_a_query_over_the_cap_refuses_the_gate_without_running_anything(
    bigquery: BigQueryWarehouse, suite: ExpectationSuite
) -> None:
    fake = _fake(bigquery)
    fake.scan_bytes[(REF.shadow_schema, "orders__v2")] = CAP + 1

    result = _gate(bigquery, 2, suite)

    assert not result.success and result.results == ()
    assert isinstance(result.refusal, CostLimitExceeded)
    assert result.refusal.details["max_bytes"] == CAP
    assert result.message == result.refusal.message
    queries = _gate_queries(fake)
    assert [q.dry_run for q in queries] == [True], "one dry run, then nothing is sent"


class _ExpiredCredentials(FakeBigQueryClient):
    def query(self, query: str, job_config: Any = None, **kwargs: Any) -> Any:
        raise auth_errors.RefreshError("the token has expired")


class _RejectsQueries(FakeBigQueryClient):
    def query_and_wait(self, query: str, *, job_config: Any = None, **kwargs: Any) -> Any:
        raise google_errors.BadRequest("Syntax error: Unexpected keyword")


def test_credentials_that_fail_refuse_the_gate_but_a_rejected_query_fails_it(
    bigquery: BigQueryWarehouse, suite: ExpectationSuite
) -> None:
    fake = _fake(bigquery)
    expired = _ExpiredCredentials(PROJECT)
    expired.state = fake.state
    source = BigQueryGateSource.of(bigquery, REF, 1)
    source.client = expired
    refused = run_gate(source, REF.shadow_schema, "orders__v1", suite, parameters=NO_FLOOR)
    assert isinstance(refused.refusal, ConfigError) and not refused.success
    assert "credentials" in refused.refusal.message

    rejecting = _RejectsQueries(PROJECT)
    rejecting.state = fake.state
    source = BigQueryGateSource.of(bigquery, REF, 1)
    source.client = rejecting
    failed = run_gate(source, REF.shadow_schema, "orders__v1", suite, parameters=NO_FLOOR)
    assert failed.refusal is None and failed.missing is None and not failed.success
    assert "could not run" in (failed.message or "") and "Syntax error" in (failed.message or "")


def test_a_missing_version_is_no_verdict(
    bigquery: BigQueryWarehouse, suite: ExpectationSuite
) -> None:
    result = _gate(bigquery, 9, suite)
    assert result.missing == "table" and not result.success
    assert "silver__shadow.orders__v9 does not exist in bigquery://spyne-test" in (
        result.message or ""
    )
    assert not _gate_queries(_fake(bigquery))


# --- the table gate: datasource by warehouse kind, verdicts recorded, refusals not ---------------


@pytest.fixture
def rt(
    tmp_path: Path, catalog: Catalog, duckdb_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    """Prod's runtime on the fake client: silver.orders v1 clean, v2 dirty, built through Spyne."""
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path / "expectations")
    write_suite("silver", "orders", suite_from_dbt_node(NODE, TESTS))
    settings = settings_from_mapping({"SPYNE_HOME": str(tmp_path / "home")}, str(tmp_path))
    settings = dataclasses.replace(settings, catalog_url=str(catalog.engine.url))
    runtime = Runtime(settings, catalog)
    warehouse = _warehouse(catalog)
    runtime.__dict__["warehouse"] = warehouse  # what Runtime.warehouse builds in prod
    svc = runtime.service()
    for source in (1, 2):
        version = svc.allocate_version(_builder(catalog), REF)
        _load(warehouse, duckdb_file, source, version)
        svc.register_build(_builder(catalog), REF, version, None)
    return runtime


def _builder(catalog: Catalog) -> Actor:
    return Actor(next(p for p in catalog.list_principals() if p.name == "builder"))


def test_the_table_gate_runs_on_bigquery_and_records_its_verdicts(rt: Runtime) -> None:
    assert isinstance(gate_source_for(rt.warehouse, REF, 1), BigQueryGateSource)
    clean = run_table_gate(rt, REF, 1, actor=_builder(rt.catalog))
    dirty = run_table_gate(rt, REF, 2, actor=_builder(rt.catalog))

    assert clean.result.success and not dirty.result.success
    assert "customer_id: expect_column_values_to_not_be_null failed, 2 unexpected rows" in (
        dirty.result.message or ""
    )
    recorded = {v.version: v.gate_status for v in rt.catalog.list_versions(REF.canonical)}
    assert recorded == {1: "passed", 2: "failed"}
    assert isinstance(rt.warehouse, BigQueryWarehouse)
    gate_jobs = [r for r in _gate_queries(_fake(rt.warehouse)) if r.labels.get("action") == "gate"]
    assert gate_jobs and {r.labels["principal"] for r in gate_jobs} == {"builder"}


def test_over_the_cap_the_table_gate_refuses_and_records_nothing(rt: Runtime) -> None:
    assert isinstance(rt.warehouse, BigQueryWarehouse)
    _fake(rt.warehouse).scan_bytes[(REF.shadow_schema, "orders__v1")] = CAP * 2
    before = rt.catalog.get_version(REF.canonical, 1).gate_status

    with pytest.raises(CostLimitExceeded) as refused:
        run_table_gate(rt, REF, 1, actor=_builder(rt.catalog))

    assert refused.value.code == "cost_limit_exceeded"
    assert "SPYNE_BQ_MAX_BYTES" in refused.value.message
    assert rt.catalog.get_version(REF.canonical, 1).gate_status == before
