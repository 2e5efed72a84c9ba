"""The Great Expectations gate against a real BigQuery project: opt-in, skipped (never passed) without one.

Runs when ``SPYNE_BQ_PROJECT`` is set and credentials are there (``SPYNE_BQ_KEYFILE_JSON``,
``SPYNE_BQ_KEYFILE`` or Application Default Credentials, as for dbt's prod profile). It writes
one table ``live_gate_<random>__v1`` in the project's ``gold__shadow`` dataset (created if
missing, in ``SPYNE_BQ_LOCATION``, default US), gates it, and drops it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from test_gates import NODE, TESTS

from orchestration.gates.bigquery_datasource import BigQueryGateSource
from orchestration.gates.runner import run_gate
from orchestration.gates.suites import MIN_ROWS_PARAMETER, suite_from_dbt_node
from orchestration.warehouse import acting_as
from orchestration.warehouse.act_lock import catalog_act_lock
from orchestration.warehouse.bigquery_auth import google_credentials
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.errors import ConfigError
from policies.naming import Layer, TableRef

MAX_BYTES = 1024**3
DIRTY = pa.table(
    {
        "id": [1, 2, 2, 3, 3, 3, 4, None],
        "customer_id": [10, 11, None, 12, None, 13, 14, 15],
        "status": ["new", "paid", "bogus", "new", "lost", "bogus", None, "paid"],
    }
)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[BigQueryWarehouse, TableRef]]:
    from google.cloud import bigquery

    project = os.environ.get("SPYNE_BQ_PROJECT", "").strip()
    if not project:
        pytest.skip("SPYNE_BQ_PROJECT is not set: no real BigQuery project to gate against")
    try:
        credentials = google_credentials(project)
    except ConfigError as exc:
        pytest.skip(f"no Google credentials for {project}: {exc.message}")
    location = os.environ.get("SPYNE_BQ_LOCATION", "").strip() or "US"
    engine = sa.create_engine(f"sqlite:///{tmp_path}/catalog.db")
    warehouse = BigQueryWarehouse(
        bigquery.Client(project=project, credentials=credentials, location=location),
        project=project,
        location=location,
        max_bytes=MAX_BYTES,
        lock=catalog_act_lock(engine),
    )
    ref = TableRef(Layer.GOLD, f"live_gate_{uuid.uuid4().hex[:10]}")
    try:
        yield warehouse, ref
    finally:
        warehouse.drop_version(ref, 1)
        engine.dispose()


def test_the_gate_on_real_bigquery(live: tuple[BigQueryWarehouse, TableRef]) -> None:
    warehouse, ref = live
    with acting_as("spyne-live-test"):
        warehouse.create_version_from_rows(ref, 1, DIRTY)
        source = BigQueryGateSource.of(warehouse, ref, 1)
    suite = suite_from_dbt_node(NODE, TESTS)

    result = run_gate(
        source,
        ref.shadow_schema,
        ref.version_identifier(1),
        suite,
        parameters={MIN_ROWS_PARAMETER: 0},
    )

    assert result.refusal is None and result.missing is None, result.message
    assert not result.success
    counts = {(o.expectation_type, o.column): o.unexpected_count for o in result.failures}
    assert counts == {
        ("expect_column_proportion_of_unique_values_to_be_between", "id"): 5,
        ("expect_column_values_to_not_be_null", "id"): 1,
        ("expect_column_values_to_not_be_null", "customer_id"): 2,
        ("expect_column_values_to_be_in_set", "status"): 3,
    }
    assert source.jobs is not None and source.jobs.dry_runs >= len(suite.expectations) // 2
