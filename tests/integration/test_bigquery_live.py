"""The BigQuery adapter against a real project: opt-in, skipped (never passed) without one.

Runs when ``SPYNE_BQ_PROJECT`` is set and Google Application Default Credentials are available
(``GOOGLE_APPLICATION_CREDENTIALS`` or ``gcloud auth application-default login``). It writes
tables named ``live_<random>`` in the project's ``gold__shadow`` and ``gold`` datasets (created
if missing, in ``SPYNE_BQ_LOCATION``, default US) and drops every table and view it made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlglot import exp

from orchestration.warehouse import acting_as
from orchestration.warehouse.act_lock import catalog_act_lock
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.naming import Layer, TableRef

MAX_BYTES = 1024**3


def _project() -> str:
    project = os.environ.get("SPYNE_BQ_PROJECT", "").strip()
    if not project:
        pytest.skip("SPYNE_BQ_PROJECT is not set: no real BigQuery project to test against")
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        pytest.skip(f"no Google credentials for {project}: {exc}")
    return project


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[BigQueryWarehouse, TableRef]]:
    from google.cloud import bigquery

    project = _project()
    location = os.environ.get("SPYNE_BQ_LOCATION", "").strip() or "US"
    engine = sa.create_engine(f"sqlite:///{tmp_path}/catalog.db")
    warehouse = BigQueryWarehouse(
        bigquery.Client(project=project, location=location),
        project=project,
        location=location,
        max_bytes=MAX_BYTES,
        lock=catalog_act_lock(engine),
    )
    ref = TableRef(Layer.GOLD, f"live_{uuid.uuid4().hex[:10]}")
    try:
        yield warehouse, ref
    finally:
        warehouse.drop_view(ref)
        for version in warehouse.versions(ref):
            warehouse.drop_version(ref, version)
        engine.dispose()


def test_the_lifecycle_on_real_bigquery(live: tuple[BigQueryWarehouse, TableRef]) -> None:
    warehouse, ref = live
    rows = pa.table({"id": [1, 2, 3], "amount": [2.5, 5.0, 7.5]})
    with acting_as("spyne-live-test"), warehouse.exclusive():
        warehouse.create_version_from_rows(ref, 1, rows)
        warehouse.create_version_from_rows(
            ref, 2, pa.table({"id": [4], "amount": [10.0]}), base_version=1
        )
        warehouse.create_version(
            ref, 3, exp.select("*").from_(warehouse.statements.version_table(ref, 1))
        )
        assert warehouse.versions(ref) == [1, 2, 3]
        first, clone, copy = (warehouse.manifest(ref, v) for v in (1, 2, 3))
        assert (first.row_count, clone.row_count) == (3, 4)
        assert copy.content_hash == first.content_hash != clone.content_hash
        assert [c.name for c in first.schema] == ["id", "amount"]

        warehouse.point_view(ref, 2)
        assert warehouse.view_version(ref) == 2
        count = exp.select(exp.func("count", exp.Star())).from_(
            warehouse.statements.canonical_table(ref)
        )
        assert warehouse.profile(count, table=ref) == [(4,)]
        assert (warehouse.estimate(count).bytes_processed or 0) >= 0
        inventory = warehouse.inventory()
        assert inventory.versions[ref.canonical] == [1, 2, 3]
        assert inventory.views[ref.canonical] == 2

        warehouse.point_view(ref, None)
        warehouse.drop_version(ref, 1)
        assert warehouse.view_version(ref) is None
        assert warehouse.versions(ref) == [2, 3]
