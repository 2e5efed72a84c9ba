"""The lifecycle service on a real DuckDB warehouse and SQLite catalog, without dbt in the loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.catalog.store import Catalog
from orchestration.services import TableService
from orchestration.warehouse import DuckDBWarehouse
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.naming import Layer, TableRef
from policies.publish import PublishingPolicy
from policies.roles import Role

REF = TableRef(Layer.GOLD, "kpis")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # the catalog stamps real time; tests move this clock ahead

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    clock = Clock()
    svc = TableService(catalog, warehouse, PublishingPolicy(retention_hours=24), clock=clock)
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    yield svc, admin, clock
    catalog.dispose()


def build(
    svc: TableService,
    rows: int,
    *,
    extra_column: bool = False,
    drop_column: bool = False,
    gate: str = "passed",
) -> int:
    version = svc.allocate_version(REF)
    cols = "range as id, range * 2 as amount" + (", 'x' as note" if extra_column else "")
    if drop_column:
        cols = "range as id"
    svc.warehouse.create_version(REF, version, f"select {cols} from range({rows})")
    svc.register_build(REF, version, None)
    svc.catalog.record_gate(REF.canonical, version, gate, {"test": True})
    return version


def test_dry_run_shows_the_change_and_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 10)
    audit_before = len(svc.catalog.list_audit(limit=1000))
    plan = svc.promote(admin, REF.canonical, dry_run=True)
    assert (plan.from_version, plan.to_version, plan.applied) == (None, 1, False)
    assert plan.decision.allowed and plan.gate_status.value == "passed"
    assert svc.catalog.get_table(REF.canonical).state == TableState.SHADOW
    assert svc.warehouse.view_version(REF) is None, "a SHADOW table has no canonical view at all"
    with (
        duckdb.connect(str(svc.warehouse.path), read_only=True) as con,
        pytest.raises(duckdb.CatalogException),
    ):
        con.execute("select * from gold.kpis")
    entries = svc.catalog.list_audit(limit=1000)
    assert len(entries) == audit_before + 1 and entries[0].action == "promote_dry_run"


def test_breaking_drift_blocks_publishing_and_additive_drift_does_not(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 10)
    svc.promote(admin, REF.canonical)
    build(svc, 10, drop_column=True)
    with pytest.raises(SpyneError) as refused:
        svc.promote(admin, REF.canonical)
    assert refused.value.code == "breaking_drift"
    assert svc.warehouse.view_version(REF) == 1
    auto = svc.publish_automatic(REF.canonical)
    assert not auto.applied and auto.drift.breaking
    v3 = build(svc, 10, extra_column=True)
    plan = svc.publish_automatic(REF.canonical)
    assert plan.applied and plan.to_version == v3 and plan.drift.severity.name == "ADDITIVE"
    assert svc.warehouse.view_version(REF) == v3


def test_failed_gate_is_never_published(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 10)
    svc.promote(admin, REF.canonical)
    build(svc, 10, gate="failed")
    assert not svc.publish_automatic(REF.canonical).applied
    with pytest.raises(SpyneError) as refused:
        svc.promote(admin, REF.canonical)
    assert refused.value.code == "gate_failed"
    assert svc.catalog.get_table(REF.canonical).active_version == 1


def test_first_promotion_waits_for_an_admin(env) -> None:  # type: ignore[no-untyped-def]
    svc, _, _ = env
    build(svc, 10)
    plan = svc.publish_automatic(REF.canonical)
    assert not plan.applied and plan.decision.verdict.name == "REQUIRE_APPROVAL"
    assert "explicit admin action" in plan.decision.message


def test_janitor_drops_only_expired_non_active_non_newest_versions(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, clock = env
    v1 = build(svc, 5)
    svc.promote(admin, REF.canonical)
    clock.now += timedelta(hours=1)
    v2 = build(svc, 6)
    svc.promote(admin, REF.canonical)  # v1 stops being ACTIVE now
    clock.now += timedelta(hours=1)
    v3 = build(svc, 7, gate="failed")  # newest, never active
    clock.now += timedelta(hours=1)
    v4 = build(svc, 8)
    svc.promote(admin, REF.canonical)
    assert svc.janitor() == {}, "everything is inside the 24 h window"

    clock.now += timedelta(hours=30)
    assert svc.janitor(dry_run=True) == {REF.canonical: [v1, v2, v3]}
    assert svc.warehouse.versions(REF) == [v1, v2, v3, v4], "a dry run drops nothing"
    assert svc.janitor() == {REF.canonical: [v1, v2, v3]}
    assert svc.warehouse.versions(REF) == [v4]
    assert svc.warehouse.view_version(REF) == v4
    assert [v.version for v in svc.catalog.list_versions(REF.canonical)] == [v4]
    with pytest.raises(SpyneError) as gone:
        svc.rollback(admin, REF.canonical, v2)
    assert gone.value.code in ("invalid_transition", "not_found")
    assert svc.warehouse.view_version(REF) == v4


def test_rollback_defaults_to_the_previous_active_version(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, clock = env
    build(svc, 5)
    svc.promote(admin, REF.canonical)
    clock.now += timedelta(minutes=5)
    build(svc, 9)
    svc.promote(admin, REF.canonical)
    plan = svc.rollback(admin, REF.canonical)
    assert (plan.from_version, plan.to_version) == (2, 1)
    assert svc.warehouse.query("select count(*) from gold.kpis")[0][0] == 5
    history = svc.catalog.history(REF.canonical)
    assert [h.transition.value for h in history] == ["promote", "promote", "rollback"]


def test_promotion_failure_in_the_warehouse_changes_nothing(
    env, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 5)
    svc.promote(admin, REF.canonical)
    build(svc, 6)

    def broken_swap(ref: TableRef, version: int, *, first: bool = True) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc.warehouse, "swap_view", broken_swap)
    with pytest.raises(RuntimeError):
        svc.promote(admin, REF.canonical)
    monkeypatch.undo()
    table = svc.catalog.get_table(REF.canonical)
    assert table.active_version == 1 and svc.warehouse.view_version(REF) == 1
    assert [h.to_version for h in svc.catalog.history(REF.canonical)] == [1]
