"""The runtime picks the warehouse the settings name: BigQuery in prod, the DuckDB file otherwise."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from orchestration.catalog import Catalog
from orchestration.runtime import Runtime
from orchestration.warehouse import DuckDBWarehouse
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.errors import SpyneError
from policies.settings import SpyneSettings, settings_from_mapping

PROD = {
    "SPYNE_ENV": "prod",
    "SPYNE_CATALOG_URL": "postgresql://spyne@db/catalog",
    "SPYNE_BQ_PROJECT": "acme-data",
    "SPYNE_BQ_LOCATION": "EU",
    "SPYNE_BQ_MAX_BYTES": "1000000",
}


def _runtime(tmp_path: Path, env: dict[str, str]) -> Runtime:
    settings: SpyneSettings = settings_from_mapping(env, str(tmp_path))
    # A local SQLite catalog stands in for prod's PostgreSQL: the warehouse only needs its engine.
    settings = dataclasses.replace(settings, catalog_url=f"sqlite:///{tmp_path}/catalog.db")
    return Runtime(settings, Catalog(settings.catalog_url))


def test_prod_builds_a_bigquery_warehouse_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "adc.json"  # Application Default Credentials of a user; nothing is called
    key.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    rt = _runtime(tmp_path, PROD)
    warehouse = rt.warehouse
    assert isinstance(warehouse, BigQueryWarehouse)
    assert (warehouse.project, warehouse.region) == ("acme-data", "EU")
    assert warehouse.jobs.max_bytes == 1_000_000 and warehouse.jobs.location == "EU"
    assert warehouse.path is None and warehouse.location == "bigquery://acme-data (EU)"
    assert warehouse.exists()
    rt.catalog.dispose()


def test_prod_without_credentials_is_refused_with_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    rt = _runtime(tmp_path, PROD)
    with pytest.raises(SpyneError) as refused:
        _ = rt.warehouse
    assert refused.value.code == "config_invalid"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in refused.value.message
    assert refused.value.details["project"] == "acme-data"
    rt.catalog.dispose()


def test_local_and_ci_stay_on_the_duckdb_file(installed_home: Path) -> None:
    from orchestration.runtime import build_runtime

    rt = build_runtime()
    assert isinstance(rt.warehouse, DuckDBWarehouse)
    assert rt.warehouse.path == installed_home / "warehouse.duckdb"
    rt.catalog.dispose()
