"""SPYNE_ENV=ci end to end on a real PostgreSQL server, with the roles a deployment uses.

`spyne init` runs with the owner's URL (``SPYNE_CATALOG_OWNER_URL``) and grants the
application role; everything after it runs without the owner's secret, as the application
role (``SPYNE_CATALOG_URL``). Dagster's run storage has a database of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster._core.utils import make_new_run_id
from typer.testing import CliRunner

from orchestration.catalog import database_url
from policies.errors import ConfigError
from tests.pg import PgRoles, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

runner = CliRunner()


def test_bronze_and_silver_build_gate_and_publish_as_the_application_role(
    spyne_home: Path, pg_roles: PgRoles, pg_server: PgRoles, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.cli import app
    from orchestration.dagster_instance import dagster_instance
    from orchestration.definitions import LAYER_JOBS, defs
    from orchestration.demo import LayerReport, _promote_pending
    from orchestration.identity import Actor
    from orchestration.run_identity import launch_tags
    from orchestration.runtime import build_runtime, runtime
    from orchestration.sample.generator import generate
    from policies.naming import Layer

    with fresh_database(pg_server) as dagster_db:
        monkeypatch.setenv("SPYNE_ENV", "ci")
        monkeypatch.setenv("SPYNE_CATALOG_URL", pg_roles.app_url)
        monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", dagster_db.owner_url)

        monkeypatch.setenv("SPYNE_CATALOG_OWNER_URL", pg_roles.owner_url)
        result = runner.invoke(app, ["init"])
        assert result.exit_code == 0, result.output
        assert "created the catalog" in result.output
        monkeypatch.delenv("SPYNE_CATALOG_OWNER_URL")  # the running platform never holds it

        result = runner.invoke(app, ["auth", "bootstrap", "--name", "ci-admin"])
        assert result.exit_code == 0, result.output
        key = result.output.split("SPYNE_API_KEY=")[1].split()[0]
        monkeypatch.setenv("SPYNE_API_KEY", key)
        result = runner.invoke(app, ["mode", "set", "INGESTION_READY", "--reason", "ci test"])
        assert result.exit_code == 0, result.output

        rt = runtime()
        assert rt.settings.env.value == "ci" and rt.catalog.dialect == "postgresql"
        with rt.catalog.engine.connect() as conn:
            assert conn.execute(sa.text("select current_user")).scalar_one() == pg_roles.app_role
        generate(rt.source_path, lines=300, seed=9)
        principal = rt.catalog.authenticate(key)
        admin = Actor(principal)

        with dagster_instance(rt.settings) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            run_ids = []
            for layer in (Layer.BRONZE, Layer.SILVER):
                run_id = make_new_run_id()
                result_run = defs.resolve_job_def(LAYER_JOBS[layer]).execute_in_process(
                    instance=instance,
                    raise_on_error=False,
                    run_id=run_id,
                    tags=launch_tags(rt.catalog, principal, run_id),
                )
                assert result_run.success, layer
                run_ids.append(run_id)
                report = LayerReport(layer.value)
                _promote_pending(rt, admin, layer, report)
                assert not report.blocked and len(report.tables) == 6, report

        dagster = sa.create_engine(database_url(dagster_db.owner_url))
        with dagster.connect() as con:
            runs = con.execute(sa.text("select run_id, status from runs")).all()
        dagster.dispose()
        assert {(r, "SUCCESS") for r in run_ids} <= set(runs)

        catalog = sa.create_engine(database_url(pg_roles.owner_url))
        with catalog.connect() as con:
            actions = {r[0] for r in con.execute(sa.text("select action from audit_log")).all()}
            launched = {
                r[0] for r in con.execute(sa.text("select launched_by from audit_log")).all()
            }
            active = con.execute(
                sa.text("select count(*) from tables where state = 'ACTIVE'")
            ).scalar_one()
        catalog.dispose()
        assert {"build", "gate_decision", "promote", "set_mode"} <= actions
        assert "ci-admin" in launched  # the runs acted for the person who launched them
        assert active == 12
        assert rt.catalog.verify_audit().ok
        assert rt.warehouse.query("select count(*) from silver.customers")[0][0] > 0

        # Pointing the platform at the owner is refused before anything runs.
        monkeypatch.setenv("SPYNE_CATALOG_URL", pg_roles.owner_url)
        with pytest.raises(ConfigError, match="SPYNE_CATALOG_OWNER_URL"):
            build_runtime()
