"""SPYNE_ENV=ci end to end: DuckDB warehouse, catalog and Dagster runs in a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestration.catalog import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_bronze_and_silver_build_gate_and_publish_with_postgres_catalog_and_run_storage(
    spyne_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYNE_ENV", "ci")
    monkeypatch.setenv("SPYNE_CATALOG_URL", pg_url)
    monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", pg_url)

    from orchestration.dagster_instance import dagster_instance
    from orchestration.definitions import LAYER_JOBS, defs
    from orchestration.demo import LayerReport, _promote_pending
    from orchestration.identity import bootstrap_admin
    from orchestration.runtime import runtime
    from orchestration.sample.generator import generate
    from policies.modes import SystemMode
    from policies.naming import Layer

    rt = runtime()
    assert rt.settings.env.value == "ci" and rt.catalog.dialect == "postgresql"
    generate(rt.source_path, lines=300, seed=9)
    admin, _ = bootstrap_admin(rt.catalog, "ci-admin")
    rt.service().set_mode(admin, SystemMode.INGESTION_READY, "ci test")

    with dagster_instance(rt.settings) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run_ids = []
        for layer in (Layer.BRONZE, Layer.SILVER):
            result = defs.resolve_job_def(LAYER_JOBS[layer]).execute_in_process(
                instance=instance, raise_on_error=False
            )
            assert result.success, layer
            run_ids.append(result.run_id)
            report = LayerReport(layer.value)
            _promote_pending(rt, admin, layer, report)
            assert not report.blocked and len(report.tables) == 6, report

    engine = sa.create_engine(database_url(pg_url))
    with engine.connect() as con:
        runs = con.execute(sa.text("select run_id, status from runs")).all()
        actions = {row[0] for row in con.execute(sa.text("select action from audit_log")).all()}
        active = con.execute(
            sa.text("select count(*) from tables where state = 'ACTIVE'")
        ).scalar_one()
    engine.dispose()
    assert {(r, "SUCCESS") for r in run_ids} <= set(runs)
    assert {"build", "gate_decision", "promote", "set_mode"} <= actions
    assert active == 12
    assert rt.warehouse.query("select count(*) from silver.customers")[0][0] > 0
