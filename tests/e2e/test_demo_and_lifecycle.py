"""End to end on real DuckDB + dbt + Dagster + GE: the demo, then the lifecycle around it."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, RunsFilter
from sqlglot import exp

from orchestration.identity import Actor
from orchestration.warehouse import canonical_table, version_table
from policies.errors import ModeRefused, SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import parse_table_ref
from policies.roles import Role

pytestmark = pytest.mark.slow


def _content(warehouse: Path, canonical: str, version: int | None = None) -> tuple[int, int]:
    """(rows, order-independent row hash) of the canonical view, or of one physical version."""
    ref = parse_table_ref(canonical)
    relation = canonical_table(ref) if version is None else version_table(ref, version)
    query = exp.select("count(*)", "coalesce(sum(hash(t)::hugeint), 0)").from_(relation.as_("t"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(query.sql(dialect="duckdb")).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_demo_builds_every_layer_and_gold_reconciles(spyne_home: Path) -> None:
    from orchestration.demo import run_demo
    from orchestration.runtime import runtime
    from orchestration.sample.reconcile import source_metrics

    instance = DagsterInstance.ephemeral()
    report = run_demo(lines=1500, seed=7, instance=instance)
    assert report.ok, [(layer.layer, layer.blocked) for layer in report.layers]
    # the demo's runs are runs of the workspace's jobs, as if launched from the UI
    runs = [instance.get_run_by_id(run_id) for run_id in report.run_ids]
    assert [r.job_name for r in runs if r] == [
        "bronze_layer",
        "silver_layer",
        "joins_layer",
        "gold_layer",
    ]
    for run in runs:
        assert run is not None and run.remote_job_origin is not None
        assert run.remote_job_origin.location_name == "orchestration.definitions:defs"
    filed = instance.get_runs(
        RunsFilter(tags={".dagster/repository": "__repository__@orchestration.definitions:defs"})
    )
    assert {r.run_id for r in filed} == set(report.run_ids)
    assert all(layer.promoted and layer.seconds > 0 for layer in report.layers)
    assert [layer.layer for layer in report.layers][:2] == ["bronze", "silver"]
    assert report.layers[-1].layer == "gold"
    assert {"gold.customer_revenue", "gold.daily_sales", "gold.open_invoices"} <= set(
        report.layers[-1].tables
    )

    rt = runtime()
    expected = source_metrics(rt.source_path)
    with duckdb.connect(str(rt.warehouse.path), read_only=True) as con:
        invoiced = con.execute(
            "select sum(invoiced_revenue) from gold.customer_revenue"
        ).fetchone()[0]
        residual = con.execute("select sum(amount_residual) from gold.open_invoices").fetchone()[0]
        orders = con.execute("select sum(orders) from gold.daily_sales").fetchone()[0]
    assert Decimal(invoiced) == Decimal(expected["invoiced_revenue"])
    assert Decimal(residual) == Decimal(expected["open_residual"])
    assert int(orders) == int(expected["confirmed_orders"])

    # every table was promoted by the admin, audited, and the ingestion mode change too
    actions = [(e.actor, e.action, e.outcome) for e in rt.catalog.list_audit(limit=500)]
    assert ("local-admin", "promote", "allowed") in actions
    assert any(a[1] == "set_mode" for a in actions)
    assert any(a[1] == "gate_decision" for a in actions)
    # the sample's true joins were accepted as the local admin, and gold read from one
    accepted = {a.model_name: a for a in rt.catalog.joins.accepted()}
    assert "jn_sale_orders_sale_order_lines" in accepted and len(accepted) == 7
    assert all(a.state == "ACTIVE" and a.accepted_by == "local-admin" for a in accepted.values())
    assert ("local-admin", "joins_accept", "allowed") in actions


def _service_principal(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code location's service principal: what scheduled and UI runs act as."""
    if not any(p.name == "dagster" for p in rt.catalog.list_principals()):
        _, key = rt.catalog.create_principal("dagster", Role.ENGINEER, created_by="test")
        monkeypatch.setenv("SPYNE_SERVICE_KEY", key)


def test_lifecycle_gate_publish_rollback_and_isolation(
    spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.definitions import defs
    from orchestration.demo import run_demo
    from orchestration.identity import current_actor, local_admin_key_file
    from orchestration.runtime import runtime

    instance = DagsterInstance.ephemeral()
    assert run_demo(lines=600, seed=3, instance=instance).ok
    rt = runtime()
    admin = current_actor(rt.catalog, local_admin_key_file(spyne_home).read_text().strip())
    _service_principal(rt, monkeypatch)
    table = "bronze.res_partner"
    v1 = rt.catalog.get_table(table).active_version
    assert v1 == 1
    hash_v1 = _content(rt.warehouse.path, table)

    bronze_job = defs.resolve_job_def("bronze_layer")

    # 1. the ERP sends a partner without a name: the gate fails and the ACTIVE view is untouched
    with duckdb.connect(str(rt.source_path)) as con:
        con.execute(
            "insert into res_partner (id, name, customer_rank, create_date, write_date) "
            "select 999999, null, 0, max(write_date), max(write_date) + interval 1 hour "
            "from res_partner"
        )
    result = bronze_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    v2 = rt.service().version(table)
    assert v2.version == 2 and v2.gate_status == "failed"
    assert rt.catalog.get_table(table).active_version == 1
    assert rt.warehouse.view_version(parse_table_ref(table)) == 1
    assert _content(rt.warehouse.path, table) == hash_v1, (
        "a shadow build must never be visible through the canonical name"
    )
    with pytest.raises(SpyneError) as refused:
        rt.service().promote(admin, table, 2)
    assert refused.value.code == "gate_failed"

    # 2. the source fixes the row (a later version of it, as an ERP writes one): the next build
    # passes its gates and publishes automatically (table is ACTIVE)
    with duckdb.connect(str(rt.source_path)) as con:
        con.execute(
            "update res_partner set name = 'fixed partner', write_date = write_date + interval 1 hour "
            "where id = 999999"
        )
        con.execute(
            "update res_partner set name = name || ' (renamed)', write_date = (select max(write_date) "
            "from res_partner) + interval 1 hour where id = (select min(id) from res_partner)"
        )
    result = bronze_job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    info = rt.catalog.get_table(table)
    assert info.active_version == 3 and info.state == TableState.ACTIVE.value
    assert _content(rt.warehouse.path, table) == _content(rt.warehouse.path, table, 3)
    assert _content(rt.warehouse.path, table) != hash_v1

    # 3. rollback restores the previous version's exact content (hash recorded at build time too)
    plan = rt.service().rollback(admin, table)
    assert (plan.from_version, plan.to_version) == (3, 1)
    assert _content(rt.warehouse.path, table) == hash_v1
    assert (
        rt.catalog.get_version(table, 1).content_hash
        == rt.warehouse.manifest(parse_table_ref(table), 1).content_hash
    )

    # 4. deprecate hides the canonical view; restore brings it back on the same version
    rt.service().deprecate(admin, table, "superseded by a contract change")
    with (
        duckdb.connect(str(rt.warehouse.path), read_only=True) as con,
        pytest.raises(duckdb.CatalogException),
    ):
        con.execute("select * from bronze.res_partner")
    rt.service().restore(admin, table)
    assert _content(rt.warehouse.path, table) == hash_v1

    # 5. a non-admin cannot promote, and the refusal is audited
    engineer, _ = rt.catalog.create_principal("erin", Role.ENGINEER, created_by=admin.name)
    with pytest.raises(SpyneError) as denied:
        rt.service().promote(Actor(engineer), table, 3)
    assert (
        denied.value.code == "permission_denied"
        and denied.value.details["required_role"] == "admin"
    )
    assert any(
        e.actor == "erin" and e.outcome == "refused" for e in rt.catalog.list_audit(limit=50)
    )


def test_concurrent_promotions_leave_one_consistent_active_version(
    spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.definitions import defs
    from orchestration.demo import run_demo
    from orchestration.identity import current_actor, local_admin_key_file
    from orchestration.runtime import runtime

    table = "gold.daily_sales"
    # this table never publishes by itself: new versions wait for an admin
    (spyne_home / "policies").mkdir(parents=True)
    (spyne_home / "policies" / "publishing.yaml").write_text(
        f"tables:\n  {table}:\n    auto_publish: false\n"
    )
    instance = DagsterInstance.ephemeral()
    assert run_demo(lines=300, seed=5, instance=instance).ok
    rt = runtime()
    admin1 = current_actor(rt.catalog, local_admin_key_file(spyne_home).read_text().strip())
    second, _ = rt.catalog.create_principal("second-admin", Role.ADMIN, created_by=admin1.name)
    admin2 = Actor(second)
    _service_principal(rt, monkeypatch)
    ref = parse_table_ref(table)

    job = defs.resolve_job_def("gold_layer")
    for _ in range(2):
        assert job.execute_in_process(instance=instance, raise_on_error=False).success
    assert rt.catalog.get_table(table).active_version == 1, (
        "auto_publish: false keeps new versions waiting"
    )
    hashes = {v.version: v.content_hash for v in rt.catalog.list_versions(table)}
    assert sorted(hashes) == [1, 2, 3]
    assert len(set(hashes.values())) == 1, (
        "three builds of the same data carry the same content hash"
    )
    skipped = [
        e
        for e in rt.catalog.list_audit(limit=200, target=table)
        if e.action == "auto_publish_skipped"
    ]
    assert skipped, "the skipped automatic publish is audited with its reason"

    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def promote(who, version) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            outcomes[who.name] = rt.service().promote(who, table, version).to_version
        except SpyneError as e:  # the loser may find its version is now older than ACTIVE
            outcomes[who.name] = e

    threads = [
        threading.Thread(target=promote, args=(admin1, 2)),
        threading.Thread(target=promote, args=(admin2, 3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = rt.catalog.get_table(table)
    assert final.active_version in (2, 3)
    assert rt.warehouse.view_version(ref) == final.active_version
    history = rt.catalog.history(table)
    assert history[-1].to_version == final.active_version
    promotions = [h for h in history if h.transition == "promote"]
    # each applied promotion is recorded exactly once, in order, chained from the previous version
    for before, after in itertools.pairwise(promotions):
        assert after.from_version == before.to_version
    assert all(isinstance(o, int | SpyneError) for o in outcomes.values()) and len(outcomes) == 2
    assert _content(rt.warehouse.path, table) == _content(
        rt.warehouse.path, table, final.active_version
    )


def _step_failure(result: Any) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    return str(error.message if error else failure)


def test_a_run_without_identity_refuses_at_its_first_step(installed_home: Path) -> None:
    from orchestration.definitions import defs
    from orchestration.runtime import runtime
    from orchestration.sample.generator import generate

    rt = runtime()
    generate(rt.source_path, lines=100, seed=1)
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "test")
    result = defs.resolve_job_def("bronze_layer").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    message = _step_failure(result)
    assert "authentication_required" in message and "SPYNE_SERVICE_KEY" in message
    assert rt.catalog.list_tables() == [], "nothing was ingested"


def test_read_only_mode_blocks_ingestion(
    installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.definitions import defs
    from orchestration.runtime import runtime
    from orchestration.sample.generator import generate

    rt = runtime()
    _service_principal(rt, monkeypatch)
    generate(rt.source_path, lines=100, seed=1)
    assert rt.catalog.current_mode().mode == "READ_ONLY"
    result = defs.resolve_job_def("bronze_layer").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert "mode_refused" in _step_failure(result)
    assert all(not rt.catalog.list_versions(t.name) for t in rt.catalog.list_tables())
    refusals = [e for e in rt.catalog.list_audit(limit=20) if e.outcome == "refused"]
    assert refusals and refusals[0].action == "ingest"
    assert (refusals[0].actor, refusals[0].launched_by) == ("dagster", "dagster")
    engineer = Actor(next(p for p in rt.catalog.list_principals() if p.name == "dagster"))
    with pytest.raises(ModeRefused):
        rt.service().ingest(
            engineer, parse_table_ref("bronze.res_partner"), rt.source_path, "res_partner", None
        )
