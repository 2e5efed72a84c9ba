"""The Dagster instance used in ci/prod stores its runs in a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, Definitions, asset, define_asset_job

from orchestration.dagster_instance import instance_config
from policies.errors import ConfigError
from policies.settings import settings_from_mapping

pytestmark = pytest.mark.postgres


@asset
def heartbeat() -> int:
    return 1


def test_a_run_lands_in_postgres_run_storage(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", pg_url)
    s = settings_from_mapping({"SPYNE_ENV": "ci", "SPYNE_CATALOG_URL": pg_url}, str(tmp_path))
    config = instance_config(s)
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "SPYNE_DAGSTER_PG_URL"}}}

    home = tmp_path / "dagster"
    home.mkdir()
    import yaml

    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        job = Definitions(assets=[heartbeat], jobs=[define_asset_job("beat")]).resolve_job_def(
            "beat"
        )
        result = job.execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id

    engine = sa.create_engine(pg_url)
    with engine.connect() as con:
        status = con.execute(
            sa.text("select status from runs where run_id = :r"), {"r": run_id}
        ).scalar_one()
    engine.dispose()
    assert status == "SUCCESS"


def test_ci_without_dagster_pg_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    monkeypatch.delenv("SPYNE_DAGSTER_PG_URL", raising=False)
    s = settings_from_mapping({"SPYNE_ENV": "ci", "SPYNE_CATALOG_URL": pg_url}, str(tmp_path))
    with pytest.raises(ConfigError) as e:
        instance_config(s)
    assert e.value.details["variable"] == "SPYNE_DAGSTER_PG_URL"
