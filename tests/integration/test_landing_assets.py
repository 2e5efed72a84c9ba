"""Landing as Dagster assets declared with dagster-dlt: keys and lineage without I/O at load,
a materialization that acts as the run's principal, and READ_ONLY refusing it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from orchestration.assets.resources import SpyneResource
from orchestration.extraction import ExtractSpec, landed_rows
from orchestration.extraction.assets import landing_assets
from orchestration.sample.generator import generate
from policies.modes import SystemMode
from policies.roles import Role

SPEC = ExtractSpec("res_partner", "write_date", timedelta(days=1))


def test_declaring_reads_nothing(tmp_path: Path) -> None:
    (asset,) = landing_assets([SPEC])
    spec = next(iter(asset.specs))
    assert spec.key == AssetKey(["landing", "res_partner"])
    assert {d.asset_key for d in spec.deps} == {AssetKey(["erp", "res_partner"])}
    assert spec.group_name == "landing"


def test_a_run_lands_as_its_principal_and_read_only_refuses(
    installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.runtime import runtime

    rt = runtime()
    generate(rt.source_path, lines=200, seed=4)
    _, key = rt.catalog.create_principal("dagster", Role.ENGINEER, created_by="test")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", key)
    (asset,) = landing_assets([SPEC])
    resources = {"spyne": SpyneResource(env="local", home=str(installed_home))}

    refused = materialize(
        [asset], resources=resources, instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not refused.success, "READ_ONLY: nothing enters the warehouse"

    rt.catalog.set_mode(SystemMode.INGESTION_READY, "test")
    result = materialize([asset], resources=resources, instance=DagsterInstance.ephemeral())
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == AssetKey(["landing", "res_partner"])
    with duckdb.connect(str(rt.warehouse.path), read_only=True) as con:
        assert (
            landed_rows(con, "res_partner").num_rows == event.materialization.metadata["rows"].value
        )
    audit = rt.catalog.list_audit(action="land")
    assert audit[0].actor == "dagster" and audit[0].target == "landing.res_partner"
