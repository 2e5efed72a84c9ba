"""A fresh install: scheduled runs build what they can and say what waits for a first promotion.

Real runs, launched as the UI launches them (from the workspace's code location), on a real
DuckDB warehouse, dbt, Great Expectations and a SQLite catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, RunsFilter

pytestmark = pytest.mark.slow


def _messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message or "" for e in instance.all_logs(run_id)]


def _steps(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    return {
        e.step_key: e.dagster_event.event_type_value
        for e in instance.all_logs(run_id)
        if e.step_key
        and e.dagster_event
        and e.dagster_event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")
    }


@dataclass
class Install:
    rt: Any
    instance: DagsterInstance
    location: Any
    admin: Any


@pytest.fixture
def fresh(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """A new local install whose admin let ingestion run, nothing promoted yet; runs from the
    UI and schedules act as the code location's service principal."""
    from orchestration.dagster_instance import workspace_location
    from orchestration.identity import Actor, bootstrap_admin
    from orchestration.runtime import runtime
    from orchestration.sample.generator import generate
    from policies.modes import SystemMode
    from policies.roles import Role

    rt = runtime()
    generate(rt.source_path, lines=300, seed=4)
    principal, _ = bootstrap_admin(rt.catalog, "first-admin")
    admin = Actor(principal)
    _, service_key = rt.catalog.create_principal("dagster", Role.ENGINEER, principal.name)
    monkeypatch.setenv("SPYNE_SERVICE_KEY", service_key)
    rt.service().set_mode(admin, SystemMode.INGESTION_READY, "first run")
    instance = DagsterInstance.ephemeral()
    with workspace_location(instance) as location:
        yield Install(rt, instance, location, admin)


def test_the_daily_run_on_a_fresh_install_succeeds_and_names_what_waits(fresh: Install) -> None:
    from orchestration.dagster_instance import run_job

    rt, instance, location = fresh.rt, fresh.instance, fresh.location
    run = run_job(instance, location, "spyne_daily", tags={"spyne/launched_by": "test"})
    assert run.is_success, _messages(instance, run.run_id)
    assert run.tags["spyne/launched_by"] == "test"
    # bronze was built and gated; silver, joins and gold wait (Dagster skips them), nothing
    # failed; join discovery finds no ACTIVE table yet
    assert _steps(instance, run.run_id) == {
        "bronze_ingest": "STEP_SUCCESS",
        "silver_build": "STEP_SKIPPED",
        "joins_build": "STEP_SKIPPED",
        "gold_build": "STEP_SKIPPED",
        "joins__candidates": "STEP_SUCCESS",
    }
    for table in rt.catalog.list_tables():
        assert table.state == "SHADOW" and table.active_version is None, table
        assert rt.catalog.get_version(table.name, 1).gate_status == "passed"
    said = "\n".join(_messages(instance, run.run_id))
    assert "bronze.res_partner v1 passed its gates and waits for its first promotion" in said
    assert "`spyne tables promote bronze.res_partner`" in said
    # it is a run of the job, filed under the code location like runs launched from the UI
    filed = instance.get_runs(
        RunsFilter(
            job_name="spyne_daily",
            tags={".dagster/repository": "__repository__@orchestration.definitions:defs"},
        )
    )
    assert [r.run_id for r in filed] == [run.run_id]


def test_a_layer_job_builds_what_it_can_and_skips_what_waits(fresh: Install) -> None:
    from orchestration.dagster_instance import run_job

    rt, instance, location, admin = fresh.rt, fresh.instance, fresh.location, fresh.admin
    assert run_job(instance, location, "bronze_layer").is_success

    # nothing of bronze is ACTIVE: silver's job builds nothing, says why, and does not fail
    run = run_job(instance, location, "silver_layer")
    assert run.is_success
    said = "\n".join(_messages(instance, run.run_id))
    assert (
        "silver.customers is not built in this run: it reads bronze.res_partner, which has no "
        "canonical view yet"
    ) in said
    assert "`spyne tables promote bronze.res_partner`" in said
    assert not [t for t in rt.catalog.list_tables() if t.name.startswith("silver.")]

    # once one bronze table is promoted, the model reading only it builds; the others still wait
    rt.service().promote(admin, "bronze.res_partner")
    run = run_job(instance, location, "silver_layer")
    assert run.is_success, _messages(instance, run.run_id)
    silver = {t.name: t for t in rt.catalog.list_tables() if t.name.startswith("silver.")}
    assert list(silver) == ["silver.customers"]
    assert rt.catalog.get_version("silver.customers", 1).gate_status == "passed"
    assert "silver.sale_orders is not built in this run" in "\n".join(
        _messages(instance, run.run_id)
    )


def test_the_readme_demo_command_runs_and_ends_cleanly(spyne_home: Path) -> None:
    """`spyne demo` as a new user types it: every layer ACTIVE, nothing alarming on stderr."""
    import subprocess
    import sys

    spyne = Path(sys.executable).parent / "spyne"
    done = subprocess.run(
        [str(spyne), "demo", "--rows", "300"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for layer in ("bronze", "silver", "joins", "gold"):
        assert f"✓ {layer}" in done.stderr, done.stderr[-3000:]
    assert "gold.daily_sales" in done.stdout and "export SPYNE_API_KEY=" in done.stdout
    for alarming in ("Traceback", "internal_error", "leaked", "nanobind", "Error"):
        assert alarming not in done.stderr, done.stderr[-3000:]
