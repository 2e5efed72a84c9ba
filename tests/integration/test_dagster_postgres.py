"""The Dagster instance used in ci/prod stores its runs in a real PostgreSQL server.

Its storage may share the catalog's database: each keeps its migrations in its own table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, Definitions, asset, define_asset_job

from orchestration.catalog import Catalog, database_url
from orchestration.catalog.schema import HEAD
from orchestration.dagster_instance import instance_config
from policies.errors import ConfigError
from policies.settings import settings_from_mapping
from tests.pg import PgRoles

pytestmark = pytest.mark.postgres


@asset
def heartbeat() -> int:
    return 1


def test_a_run_lands_in_postgres_run_storage_beside_the_catalog(
    pg_roles: PgRoles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog(pg_roles.app_url, owner_url=pg_roles.owner_url)
    catalog.upgrade()
    # Dagster creates its own tables, so its storage connects as a role that may (the owner here).
    pg_url = pg_roles.owner_url
    monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", pg_url)
    s = settings_from_mapping(
        {"SPYNE_ENV": "ci", "SPYNE_CATALOG_URL": pg_roles.app_url}, str(tmp_path)
    )
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

    engine = sa.create_engine(database_url(pg_url))
    with engine.connect() as con:
        status = con.execute(
            sa.text("select status from runs where run_id = :r"), {"r": run_id}
        ).scalar_one()
        tables = set(sa.inspect(con).get_table_names())
    engine.dispose()
    assert status == "SUCCESS"
    assert {"alembic_version", "spyne_catalog_version", "runs", "audit_log"} <= tables
    try:
        catalog.check_ready()
        assert catalog.schema_revision() == HEAD
    finally:
        catalog.dispose()


def test_ci_without_dagster_pg_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    monkeypatch.delenv("SPYNE_DAGSTER_PG_URL", raising=False)
    s = settings_from_mapping({"SPYNE_ENV": "ci", "SPYNE_CATALOG_URL": pg_url}, str(tmp_path))
    with pytest.raises(ConfigError) as e:
        instance_config(s)
    assert e.value.details["variable"] == "SPYNE_DAGSTER_PG_URL"
