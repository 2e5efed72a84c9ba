"""The lifecycle service on each warehouse adapter and a SQLite catalog, without dbt in the loop.

Every test runs twice: on a real DuckDB file, and on BigQuery through the fake client (which
keeps the project's datasets, tables and views, so promote, rollback, the janitor, recovery and
the doctor see what they would see in BigQuery).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from orchestration.catalog import Catalog, IntentStatus
from orchestration.identity import Actor
from orchestration.lifecycle.service import TableService
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Role
from tests.warehouse_support import KINDS, Adapter, adapter

REF = TableRef(Layer.GOLD, "kpis")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # the catalog stamps real time; tests move this clock ahead

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    svc: TableService
    admin: Actor
    runner: Actor  # the code location's service principal (engineer), as a scheduled run
    clock: Clock
    adapter: Adapter

    def __iter__(self) -> Iterator[object]:
        return iter((self.svc, self.admin, self.clock))


@pytest.fixture(params=KINDS)
def env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Env]:
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    catalog.upgrade()
    used = adapter(request.param, tmp_path, catalog.engine)
    clock = Clock()
    svc = TableService(catalog, used.warehouse, PublishingPolicy(retention_hours=24), clock=clock)
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    service, _ = catalog.create_principal("dagster", Role.ENGINEER, created_by="ada")
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    yield Env(svc, Actor(admin), Actor(service, "schedule:daily"), clock, used)
    catalog.dispose()


def build(
    svc: TableService,
    rows: int,
    *,
    extra_column: bool = False,
    drop_column: bool = False,
    gate: str = "passed",
) -> int:
    runner = Actor(next(p for p in svc.catalog.list_principals() if p.name == "dagster"))
    version = svc.allocate_version(runner, REF)
    columns: dict[str, list[object]] = {"id": list(range(rows))}
    if not drop_column:
        columns["amount"] = [i * 2 for i in range(rows)]
    if extra_column:
        columns["note"] = ["x"] * rows
    svc.warehouse.create_version_from_rows(REF, version, pa.table(columns))
    svc.register_build(runner, REF, version, None)
    svc.catalog.record_gate(REF.canonical, version, gate, {"test": True}, actor=runner.name)
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
    assert REF.canonical not in svc.warehouse.inventory().views
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
    auto = svc.publish_automatic(env.runner, REF.canonical)
    assert not auto.applied and auto.drift.breaking
    v3 = build(svc, 10, extra_column=True)
    plan = svc.publish_automatic(env.runner, REF.canonical)
    assert plan.applied and plan.to_version == v3 and plan.drift.severity.name == "ADDITIVE"
    assert svc.warehouse.view_version(REF) == v3


def test_failed_gate_is_never_published(env) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 10)
    svc.promote(admin, REF.canonical)
    build(svc, 10, gate="failed")
    assert not svc.publish_automatic(env.runner, REF.canonical).applied
    with pytest.raises(SpyneError) as refused:
        svc.promote(admin, REF.canonical)
    assert refused.value.code == "gate_failed"
    assert svc.catalog.get_table(REF.canonical).active_version == 1


def test_first_promotion_waits_for_an_admin(env) -> None:  # type: ignore[no-untyped-def]
    svc, _, _ = env
    build(svc, 10)
    plan = svc.publish_automatic(env.runner, REF.canonical)
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
    assert svc.janitor(env.runner) == {}, "everything is inside the 24 h window"

    clock.now += timedelta(hours=30)
    assert svc.janitor(env.runner, dry_run=True) == {REF.canonical: [v1, v2, v3]}
    assert svc.warehouse.versions(REF) == [v1, v2, v3, v4], "a dry run drops nothing"
    assert svc.janitor(env.runner) == {REF.canonical: [v1, v2, v3]}
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
    assert env.adapter.visible_rows(REF) == 5
    history = svc.catalog.history(REF.canonical)
    assert [h.transition.value for h in history] == ["promote", "promote", "rollback"]


def test_promotion_failure_in_the_warehouse_changes_nothing(
    env, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    svc, admin, _ = env
    build(svc, 5)
    svc.promote(admin, REF.canonical)
    build(svc, 6)

    def broken_view(ref: TableRef, version: int | None) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc.warehouse, "point_view", broken_view)
    with pytest.raises(RuntimeError):
        svc.promote(admin, REF.canonical)
    monkeypatch.undo()
    table = svc.catalog.get_table(REF.canonical)
    assert table.active_version == 1 and svc.warehouse.view_version(REF) == 1
    assert [h.to_version for h in svc.catalog.history(REF.canonical)] == [1]


def test_a_run_acts_as_its_principal_and_the_audit_names_who_launched_it(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    plan = svc.publish_automatic(env.runner, REF.canonical)
    assert plan.applied
    (entry,) = svc.catalog.list_audit(action="auto_publish", target=REF.canonical)
    assert (entry.actor, entry.launched_by) == ("dagster", "schedule:daily")


def test_read_only_mode_refuses_every_write_but_the_way_back(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    svc.promote(env.admin, REF.canonical)
    build(svc, 7)
    svc.catalog.set_mode(SystemMode.READ_ONLY, "ada")
    with pytest.raises(SpyneError) as refused:
        svc.allocate_version(env.runner, REF)
    assert refused.value.code == "mode_refused"
    skipped = svc.publish_automatic(env.runner, REF.canonical)
    assert not skipped.applied and "system_mode" in [r.rule for r in skipped.decision.reasons]
    with pytest.raises(SpyneError) as refused:
        svc.promote(env.admin, REF.canonical)
    assert refused.value.code == "mode_refused"
    with pytest.raises(SpyneError) as refused:
        svc.janitor(env.runner)
    assert refused.value.code == "mode_refused"
    assert svc.rollback(env.admin, REF.canonical).to_version == 1, "undo stays open"
    assert svc.warehouse.view_version(REF) == 1


def test_roles_are_checked_on_builds_and_publishing(env: Env) -> None:
    svc = env.svc
    viewer, _ = svc.catalog.create_principal("vic", Role.VIEWER, created_by="ada")
    with pytest.raises(SpyneError) as refused:
        svc.allocate_version(Actor(viewer), REF)
    assert refused.value.code == "permission_denied"
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    plan = svc.publish_automatic(Actor(viewer), REF.canonical)
    assert not plan.applied and plan.decision.reasons[0].rule == "roles"
    refusals = [e for e in svc.catalog.list_audit() if e.outcome.value == "refused"]
    assert {e.actor for e in refusals} == {"vic"}


def test_rollback_refuses_when_someone_published_in_between(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    seen = svc.catalog.get_table(REF.canonical).active_version  # what the person saw: v1
    build(svc, 6)
    assert svc.publish_automatic(env.runner, REF.canonical).applied  # a run publishes v2
    with pytest.raises(SpyneError) as refused:
        svc.rollback(env.admin, REF.canonical, 1, expect_active=seen)
    assert refused.value.code == "concurrent_change"
    assert refused.value.details["active_version"] == 2
    assert svc.warehouse.view_version(REF) == 2
    assert svc.rollback(env.admin, REF.canonical, 1, expect_active=2).to_version == 1


def _crash_after_the_view_moved(svc: TableService, actor: Actor, to: int) -> None:
    """What a kill -9 between the view swap and the catalog commit leaves behind."""
    with svc.catalog.transition(REF.canonical) as tx:
        tx.open_intent("promote", tx.table.visible_version, to, actor.name)
    svc.warehouse.point_view(REF, to)


def test_an_interrupted_promotion_is_undone_by_the_next_command(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    _crash_after_the_view_moved(svc, env.admin, 2)
    assert svc.warehouse.view_version(REF) == 2 and svc.catalog.get_table(REF).active_version == 1
    findings = svc.examine(env.admin)
    assert {f.kind for f in findings} == {"interrupted_act", "view_mismatch"}

    (settled,) = svc.settle("ada")
    assert settled.status == IntentStatus.UNDONE
    assert svc.warehouse.view_version(REF) == 1
    assert svc.catalog.pending_intents() == []
    assert svc.examine(env.admin) == []
    (entry,) = svc.catalog.list_audit(action="recover")
    assert entry.details["interrupted_action"] == "promote" and entry.details["status"] == "undone"
    assert svc.catalog.verify_audit().ok


def test_a_new_act_settles_what_an_interrupted_one_left(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    build(svc, 7)
    _crash_after_the_view_moved(svc, env.admin, 2)
    plan = svc.promote(env.admin, REF.canonical, 3)
    assert (plan.from_version, plan.to_version) == (1, 3)
    assert svc.warehouse.view_version(REF) == 3
    assert [i.status for i in svc.catalog.pending_intents()] == []


def test_an_interrupted_janitor_drop_is_finished(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    svc.promote(env.admin, REF.canonical)
    with svc.catalog.transition(REF.canonical) as tx:
        tx.open_intent("drop_version", 1, None, "dagster")
    svc.warehouse.drop_version(REF, 1)  # killed before the catalog noted it
    (settled,) = svc.settle()
    assert settled.status == IntentStatus.DONE
    assert svc.catalog.get_version(REF.canonical, 1).dropped


def test_doctor_repairs_a_view_moved_by_hand(env: Env) -> None:
    svc = env.svc
    build(svc, 5)
    svc.promote(env.admin, REF.canonical)
    build(svc, 6)
    svc.warehouse.point_view(REF, 2)  # someone swapped the view outside Spyne
    (finding,) = svc.examine(env.admin)
    assert (finding.kind, finding.expected, finding.found) == ("view_mismatch", 1, 2)
    with pytest.raises(SpyneError) as refused:
        svc.repair(env.runner)
    assert refused.value.code == "permission_denied"
    (fixed,) = svc.repair(env.admin)
    assert fixed.repaired and svc.warehouse.view_version(REF) == 1
    assert svc.catalog.list_audit(action="repair")[0].actor == "ada"


def test_canonical_view_carries_the_version_descriptions(env: Env) -> None:
    svc = env.svc
    version = build(svc, 3)
    env.adapter.describe(REF, version, "Daily KPIs", {"amount": "Amount in EUR"})
    svc.promote(env.admin, REF.canonical, version)
    shown = svc.warehouse.descriptions(REF, None)
    assert shown.table == "Daily KPIs"
    assert shown.columns == (("id", None), ("amount", "Amount in EUR"))
    assert env.adapter.visible_rows(REF) == 3


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_guard_names_checked_on_open_are_the_guards_installed(dialect: str) -> None:
    from orchestration.catalog import guards

    assert guards.names(dialect) == set(guards.expected(dialect))
