"""The Dagster code location loads, and its shape follows the dbt folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey


@pytest.fixture
def defs(spyne_home: Path):  # type: ignore[no-untyped-def]
    from orchestration.definitions import defs as loaded

    return loaded


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


def test_dbt_executable_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's code server may start without the virtualenv on PATH; dbt must still be found."""
    from orchestration.assets.project import dbt_executable

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = Path(dbt_executable())
    assert found.is_absolute() and found.exists() and found.name == "dbt"
