"""The Dagster code location loads, its shape follows the dbt folders, and loading it stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def defs(spyne_home: Path):  # type: ignore[no-untyped-def]
    from orchestration.definitions import defs as loaded

    return loaded


def test_every_key_is_pinned(defs) -> None:  # type: ignore[no-untyped-def]
    """Assets, checks, jobs and schedules keep their keys: runs, the UI and the catalog use them."""
    expected = json.loads((FIXTURES / "code_location_keys.json").read_text())
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == expected["assets"]
    assert (
        sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
        == expected["checks"]
    )
    assert (
        sorted(j.name for j in defs.resolve_all_job_defs() if j.name != "__ASSET_JOB")
        == (expected["jobs"])
    )
    assert sorted(s.name for s in defs.schedules) == expected["schedules"]


def test_definitions_load_with_every_layer(defs) -> None:  # type: ignore[no-untyped-def]
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"source", "bronze", "silver", "gold"} <= groups
    # every promotable table is two assets: the build and the canonical view
    for layer, table in [
        ("bronze", "sale_order"),
        ("silver", "customers"),
        ("gold", "customer_revenue"),
        ("gold", "daily_sales"),
        ("gold", "open_invoices"),
    ]:
        assert f"{layer}/{table}/shadow" in keys
        assert f"{layer}/{table}" in keys
    assert "erp/sale_order" in keys


def test_lineage_runs_through_published_views(defs) -> None:  # type: ignore[no-untyped-def]
    graph = defs.resolve_asset_graph()
    # silver builds read the canonical bronze view, which is built from the source through bronze/shadow
    assert (
        AssetKey(["bronze", "sale_order"])
        in graph.get(AssetKey(["silver", "sale_orders", "shadow"])).parent_keys
    )
    assert (
        AssetKey(["bronze", "sale_order", "shadow"])
        in graph.get(AssetKey(["bronze", "sale_order"])).parent_keys
    )
    assert (
        AssetKey(["erp", "sale_order"])
        in graph.get(AssetKey(["bronze", "sale_order", "shadow"])).parent_keys
    )
    gold_parents = graph.get(AssetKey(["gold", "customer_revenue", "shadow"])).parent_keys
    assert AssetKey(["silver", "customers"]) in gold_parents
    assert not any(k.path[-1] == "shadow" for k in gold_parents), (
        "gold must read published silver, not shadows"
    )


def test_gates_are_blocking_checks_on_shadow_assets(defs) -> None:  # type: ignore[no-untyped-def]
    graph = defs.resolve_asset_graph()
    checks = {
        (c.asset_key.to_user_string(), c.name): graph.get_check_spec(c)
        for c in graph.asset_check_keys
    }
    for table in (
        "bronze/res_partner/shadow",
        "silver/customers/shadow",
        "gold/daily_sales/shadow",
    ):
        assert checks[(table, "ge_gate")].blocking
        assert checks[(table, "schema_drift")].blocking
    # dbt tests surface as checks too
    assert any(
        name.startswith("unique_") for (asset, name) in checks if asset == "silver/customers/shadow"
    )


def test_a_layer_builds_gates_and_publishes_in_one_step(defs) -> None:  # type: ignore[no-untyped-def]
    """So that one table's failed gate or missing build cannot cost another table its decision."""
    graph = defs.resolve_asset_graph()
    for layer, table, step in (
        ("bronze", "res_partner", "bronze_ingest"),
        ("silver", "customers", "silver_build"),
    ):
        job = defs.resolve_job_def(f"{layer}_layer")
        assert [n.name for n in job.graph.nodes] == [step]
        shadow, view = AssetKey([layer, table, "shadow"]), AssetKey([layer, table])
        built_by = graph.get(shadow).assets_def
        assert built_by.node_def.name == step and view in built_by.keys
        assert {c.name for c in built_by.check_keys if c.asset_key == shadow} >= {
            "ge_gate",
            "schema_drift",
        }


def test_daily_schedule_covers_the_whole_graph(defs) -> None:  # type: ignore[no-untyped-def]
    schedule = defs.resolve_schedule_def("spyne_daily_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    job = defs.resolve_job_def(schedule.job_name)
    selected = job.asset_layer.selected_asset_keys
    for key in (
        ["bronze", "res_partner", "shadow"],
        ["silver", "invoices"],
        ["gold", "open_invoices", "shadow"],
        ["gold", "open_invoices"],
    ):
        assert AssetKey(key) in selected


def test_janitor_job_runs_on_a_schedule_as_the_service_principal(
    defs, installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from dagster import DagsterInstance

    from orchestration.runtime import runtime
    from policies.modes import SystemMode
    from policies.roles import Role

    catalog = runtime().catalog
    _, key = catalog.create_principal("dagster", Role.ENGINEER, created_by="test")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", key)
    catalog.set_mode(SystemMode.INGESTION_READY, "test")
    assert defs.resolve_schedule_def("spyne_janitor_schedule").job_name == "spyne_janitor"
    result = defs.resolve_job_def("spyne_janitor").execute_in_process(
        instance=DagsterInstance.ephemeral(),
        tags={"dagster/schedule_name": "spyne_janitor_schedule"},
    )
    assert result.success
    assert result.output_for_node("drop_expired_versions") == {}


def test_spyne_resource_shows_its_environment(defs) -> None:  # type: ignore[no-untyped-def]
    """env and home are the resource's own fields (read from the environment at run time)."""
    from dagster import EnvVar

    from orchestration.assets.resources import SpyneResource

    spyne = defs.resources["spyne"]
    assert isinstance(spyne, SpyneResource)
    assert spyne.env == EnvVar("SPYNE_ENV") and spyne.home == EnvVar("SPYNE_HOME")


def test_assets_point_at_their_code(defs) -> None:  # type: ignore[no-untyped-def]
    graph = defs.resolve_asset_graph()

    def files(key: list[str]) -> list[str]:
        refs = graph.get(AssetKey(key)).metadata["dagster/code_references"]
        return [Path(r.file_path).name for r in refs.code_references]

    assert files(["silver", "customers", "shadow"]) == ["customers.sql"]
    assert files(["silver", "customers"]) == ["steps.py"]
    assert files(["bronze", "res_partner", "shadow"]) == ["steps.py"]
    assert files(["erp", "res_partner"]) == ["_bronze__sources.yml"]


def test_one_list_of_layers_and_gated_tables() -> None:
    from orchestration.assets.project import DBT_LAYERS, gated_tables
    from orchestration.definitions import LAYER_JOBS
    from policies.naming import Layer

    assert DBT_LAYERS == (Layer.SILVER, Layer.JOINS, Layer.GOLD)
    tables = gated_tables()
    assert [t.canonical for t in tables[:2]] == ["bronze.account_move", "bronze.account_payment"]
    assert [t.layer.rank for t in tables] == sorted(t.layer.rank for t in tables), "build order"
    assert len(tables) == 22, "15 and the 7 accepted joins of the sample"
    assert list(LAYER_JOBS) == [Layer.BRONZE, Layer.SILVER, Layer.JOINS, Layer.GOLD]


def test_loading_imports_nothing_of_the_catalog_or_the_warehouse() -> None:
    """The code location loads without SQLAlchemy, Alembic, DuckDB or Great Expectations."""
    heavy = ["sqlalchemy", "alembic", "duckdb", "great_expectations", "orchestration.catalog"]
    probe = (
        "import sys, json, orchestration.definitions; "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_bytecode_is_compiled_at_install() -> None:
    """scripts/setup.sh compiles the venv and the package (nothing is cached at run time here)."""
    import importlib.util

    import dagster

    import orchestration.definitions

    for module in (dagster, orchestration.definitions):
        assert module.__file__ is not None
        assert Path(importlib.util.cache_from_source(module.__file__)).exists(), module.__name__


@pytest.mark.slow
def test_code_location_loads_another_dbt_project(tmp_path: Path) -> None:
    """SPYNE_DBT_PROJECT_DIR points the location elsewhere (here a grown synthetic copy)."""
    from bench.synthetic_project import write_synthetic_project

    made = write_synthetic_project(tmp_path / "grown", 10)
    env = {
        **os.environ,
        **made.environ(),
        "SPYNE_ENV": "local",
        "SPYNE_HOME": str(tmp_path / "home"),
        "SPYNE_WAREHOUSE_PATH": str(tmp_path / "home" / "warehouse.duckdb"),
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster"),
    }
    bin_dir = Path(sys.executable).parent
    project = str(made.dbt_project_dir)
    subprocess.run(
        [
            str(bin_dir / "dbt"),
            "parse",
            "--quiet",
            "--project-dir",
            project,
            "--profiles-dir",
            project,
        ],
        env=env,
        check=True,
    )
    probe = (
        "import json; from orchestration.definitions import defs; "
        "g = defs.resolve_asset_graph(); "
        "print(json.dumps(sorted(k.to_user_string() for k in g.get_all_asset_keys())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    keys = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {"silver/syn_silver_0010/shadow", "silver/syn_silver_0010", "gold/syn_gold_0002"} <= keys
    assert "silver/customers" in keys
    assert len([k for k in keys if k.startswith("gold/syn_gold_") and k.endswith("/shadow")]) == 2


def test_dbt_executable_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's code server may start without the virtualenv on PATH; dbt must still be found."""
    from orchestration.assets.project import dbt_executable

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = Path(dbt_executable())
    assert found.is_absolute() and found.exists() and found.name == "dbt"


def test_freshness_is_on_by_default_and_its_job_runs_only_its_checks(defs) -> None:  # type: ignore[no-untyped-def]
    from dagster import DefaultSensorStatus

    sensor = defs.resolve_sensor_def("spyne_freshness")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    job = defs.resolve_job_def("spyne_freshness_checks")
    assert {c.name for c in job.asset_layer.asset_graph.asset_check_keys} == {"freshness_check"}
    assert job.asset_layer.executable_asset_keys == set()
    daily = defs.resolve_job_def("spyne_daily")
    assert not any(n.name.startswith("freshness_check") for n in daily.nodes_in_topological_order)
