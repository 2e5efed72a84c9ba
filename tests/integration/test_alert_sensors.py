"""The alerting sensors end to end on DuckDB and a SQLite catalog, with Dagster's sensor test
utilities: source drift (a renamed column, the source put back, an added nullable column), gate
failures from the audit log, failed and recovered runs; cursors carried across evaluations as
Dagster keeps them across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
    build_sensor_context,
    job,
    op,
)

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.runs.dead_letters import SENSOR_NAME as DEAD_LETTERS
from orchestration.runs.dead_letters import spyne_dead_letters
from orchestration.runtime import runtime
from orchestration.sample.generator import generate
from orchestration.sensors.definitions import (
    RECOVERED_SENSOR,
    spyne_alerts,
    spyne_run_recovered,
    spyne_source_drift,
)
from policies.errors import AuthenticationRequired
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

PARTNERS = TableRef(Layer.BRONZE, "res_partner")


@pytest.fixture
def site(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    rt = runtime()
    admin, _ = rt.catalog.create_principal("ada", Role.ADMIN, "test")
    service, key = rt.catalog.create_principal("dagster", Role.ENGINEER, "ada")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", key)
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=30)
    return {"rt": rt, "admin": Actor(admin), "runner": Actor(service, "schedule:test")}


def land(site: dict[str, Any], publish: str = "promote") -> Any:
    rt, runner = site["rt"], site["runner"]
    svc = rt.service()
    info, _ = svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(PARTNERS.canonical, info.version, "passed", actor=runner.name)
    if publish == "promote":
        return svc.promote(site["admin"], PARTNERS.canonical, info.version)
    return svc.publish_automatic(runner, PARTNERS.canonical, info.version)


def source_sql(site: dict[str, Any], sql: str) -> None:
    with duckdb.connect(str(site["rt"].source_path)) as con:
        con.execute(sql)


def drift_tick(instance: DagsterInstance, cursor: str | None) -> tuple[str, str | None]:
    context = build_sensor_context(instance=instance, cursor=cursor)
    result = spyne_source_drift(context)
    return str(result.skip_message), context.cursor


def open_alerts(catalog: Catalog, kind: str) -> list[Any]:
    return [n for n in catalog.notifications.all(open_only=True) if n.kind.value == kind]


def test_source_drift_sensor_end_to_end(site: dict[str, Any]) -> None:
    rt = site["rt"]
    land(site)
    instance = DagsterInstance.ephemeral()

    message, cursor = drift_tick(instance, None)
    # every source is held to its registered contract (spyne init registers the shipped ones)
    assert "6 sources checked, 0 drifted" in message and "0 not checked" in message
    assert json.loads(cursor or "")["erp.res_partner"] == "NONE"
    assert open_alerts(rt.catalog, "drift") == []

    source_sql(site, "ALTER TABLE res_partner RENAME COLUMN email TO email_address")
    message, cursor = drift_tick(instance, cursor)
    assert '"erp.res_partner": "BREAKING"' in message
    (alert,) = open_alerts(rt.catalog, "drift")
    assert alert.severity.label == "critical" and alert.opened_by == "dagster"
    assert "column email renamed to email_address" in alert.title
    assert "(expected: contract erp_res_partner 1.0.0)" in alert.title
    assert alert.details["what_to_do"].startswith(
        "every table built from erp.res_partner is refused publication until erp_res_partner "
        "has a new major version registered"
    )
    assert alert.details["what_to_do"].endswith("models reading it: customers")
    assert alert.details["readers"] == {
        "*": ["customers"],
        "email_address": [],
        "email": ["customers"],  # the model that reads the old name is where to migrate
    }
    assert rt.catalog.source_drift.open()["erp.res_partner"]["severity"] == "BREAKING"
    log = (rt.home / "alerts.log").read_text().splitlines()
    assert len(log) == 1

    # a restart: Dagster hands the same cursor to a new evaluation; the condition pages once
    _, cursor = drift_tick(DagsterInstance.ephemeral(), cursor)
    assert len((rt.home / "alerts.log").read_text().splitlines()) == 1
    assert open_alerts(rt.catalog, "drift")[0].repeats == 1

    # the next ingest lands the renamed column; its publish is refused with the reason
    plan = land(site, publish="automatic")
    assert not plan.applied and not plan.decision.allowed
    assert "email renamed to email_address" in plan.drift.summary()
    # ... and for breaking its contract: which source, which change, what to do
    (blocked,) = [r for r in plan.decision.reasons if r.rule == "source_drift"]
    assert blocked.details["source"] == "erp.res_partner"
    assert "column email renamed to email_address" in blocked.message
    assert "register erp_res_partner 2.0.0" in blocked.message
    assert rt.catalog.get_table(PARTNERS.canonical).active_version == 1

    # the source is put back: the drift is resolved and the alert closed
    source_sql(site, "ALTER TABLE res_partner RENAME COLUMN email_address TO email")
    message, cursor = drift_tick(instance, cursor)
    assert "0 drifted" in message
    assert open_alerts(rt.catalog, "drift") == []
    assert rt.catalog.source_drift.open() == {}

    # an added nullable column is ADDITIVE: the contract follows the source as 1.1.0, registered
    # by the service principal; the info alert is raised and closed, nothing blocked
    source_sql(site, "ALTER TABLE res_partner ADD COLUMN fax VARCHAR")
    drift_tick(instance, cursor)
    assert open_alerts(rt.catalog, "drift") == []
    (info,) = [n for n in rt.catalog.notifications.all() if "column fax added" in n.title]
    assert info.severity.label == "info" and info.closed_by == "dagster"
    reasons = [e.details.get("reason") for e in rt.catalog.list_audit(limit=50)]
    assert "contract erp_res_partner 1.1.0 registered, following the source" in reasons
    newest = rt.catalog.contracts.get("erp_res_partner")
    assert newest.version == "1.1.0" and newest.registered_by == "dagster"
    assert newest.source == f"drift report #{info.details['drift_report']}"
    message, cursor = drift_tick(instance, cursor)
    assert "0 drifted" in message
    counts, resolved = rt.catalog.source_drift.counts()
    assert counts == {("erp.res_partner", "BREAKING"): 1, ("erp.res_partner", "ADDITIVE"): 1}
    assert resolved == 2
    actions = {e.action for e in rt.catalog.list_audit(limit=200)}
    assert {
        "source_drift_recorded",
        "alert_opened",
        "alert_closed",
        "register_contract",
        "check_drift",
    } - actions == {"check_drift"}  # allowed checks are not audited, refusals are


def test_a_new_install_without_a_source_has_nothing_to_check(installed_home: Path) -> None:
    rt = runtime()
    _, key = rt.catalog.create_principal("dagster", Role.ENGINEER, "test")
    assert not rt.source_path.exists()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPYNE_SERVICE_KEY", key)
        message, cursor = drift_tick(DagsterInstance.ephemeral(), None)
    assert "0 sources checked" in message and "6 not checked" in message
    assert json.loads(cursor or "") == {}


def test_a_sensor_without_its_service_key_refuses(
    site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPYNE_SERVICE_KEY")
    with pytest.raises(AuthenticationRequired, match="SPYNE_SERVICE_KEY"):
        spyne_source_drift(build_sensor_context(instance=DagsterInstance.ephemeral()))
    assert site["rt"].catalog.notifications.all() == []


def test_gate_failures_from_the_audit_log_with_a_cursor(site: dict[str, Any]) -> None:
    rt, runner = site["rt"], site["runner"]
    svc = rt.service()
    info, _ = svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(
        PARTNERS.canonical, info.version, "failed", {"failed": 2}, actor="dagster"
    )
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance)
    assert "up to" in str(spyne_alerts(context).skip_message)
    (alert,) = open_alerts(rt.catalog, "gate_failure")
    assert alert.subject == "bronze.res_partner" and "failed its gates" in alert.title
    cursor = context.cursor

    # the same cursor after a restart reads nothing again: no second page
    again = build_sensor_context(instance=instance, cursor=cursor)
    assert str(spyne_alerts(again).skip_message).startswith("0 audit entries")
    assert open_alerts(rt.catalog, "gate_failure")[0].repeats == 0

    info, _ = svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(PARTNERS.canonical, info.version, "passed", actor="dagster")
    spyne_alerts(build_sensor_context(instance=instance, cursor=again.cursor))
    assert open_alerts(rt.catalog, "gate_failure") == []

    # an ingest refused by the mode alerts too, and a later landing clears it
    rt.catalog.set_mode(SystemMode.READ_ONLY, "ada")
    with pytest.raises(Exception, match="mode"):
        svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    context = build_sensor_context(instance=instance, cursor=again.cursor)
    spyne_alerts(context)
    (refused,) = open_alerts(rt.catalog, "ingestion_refused")
    assert refused.subject == "bronze.res_partner"
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    spyne_alerts(build_sensor_context(instance=instance, cursor=context.cursor))
    assert open_alerts(rt.catalog, "ingestion_refused") == []


@op(config_schema={"fail": bool})
def maybe_fail(context):  # type: ignore[no-untyped-def]
    if context.op_config["fail"]:
        raise ValueError("the source answered garbage")


@job
def nightly() -> None:
    maybe_fail()


def _run(instance: DagsterInstance, fail: bool) -> Any:
    result = nightly.execute_in_process(
        instance=instance,
        run_config={"ops": {"maybe_fail": {"config": {"fail": fail}}}},
        raise_on_error=False,
    )
    return instance.get_run_by_id(result.run_id)


def test_failed_run_alerts_once_per_job_and_clears_on_success(site: dict[str, Any]) -> None:
    rt = site["rt"]
    instance = DagsterInstance.ephemeral()
    for _ in range(2):
        run = _run(instance, fail=True)
        (failure,) = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        context = build_run_status_sensor_context(
            sensor_name=DEAD_LETTERS,
            dagster_event=failure.get_dagster_event(),
            dagster_instance=instance,
            dagster_run=run,
        ).for_run_failure()
        spyne_dead_letters(context)
    (alert,) = open_alerts(rt.catalog, "run_failure")
    assert alert.subject == "nightly" and alert.repeats == 1
    assert f"run {alert.details['run_id']} of nightly failed" in alert.title
    assert len((rt.home / "alerts.log").read_text().splitlines()) == 1

    ok = _run(instance, fail=False)
    (success,) = instance.all_logs(ok.run_id, of_type=DagsterEventType.RUN_SUCCESS)
    spyne_run_recovered(
        build_run_status_sensor_context(
            sensor_name=RECOVERED_SENSOR,
            dagster_event=success.get_dagster_event(),
            dagster_instance=instance,
            dagster_run=ok,
        )
    )
    assert open_alerts(rt.catalog, "run_failure") == []
    (closed,) = rt.catalog.notifications.all()
    assert closed.closed_by == "dagster" and not closed.open


def test_spyne_drift_check(site: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from orchestration.cli import app

    rt = site["rt"]
    land(site)
    _, key = rt.catalog.create_principal("eve", Role.ENGINEER, "ada")
    _, viewer = rt.catalog.create_principal("vic", Role.VIEWER, "ada")
    source_sql(site, "ALTER TABLE res_partner ALTER COLUMN customer_rank TYPE SMALLINT")
    runner = CliRunner()
    monkeypatch.setenv("SPYNE_API_KEY", viewer)
    refused = runner.invoke(app, ["drift", "check"])
    assert refused.exit_code == 1 and "[permission_denied]" in refused.output
    monkeypatch.setenv("SPYNE_API_KEY", key)
    result = runner.invoke(app, ["drift", "check", "--json"])
    assert result.exit_code == 0, result.output
    by_source = {c["source"]: c for c in json.loads(result.output)}
    assert len(by_source) == 6
    partners = by_source["erp.res_partner"]
    assert partners["severity"] == "BREAKING"
    assert partners["expected_from"] == "contract erp_res_partner 1.0.0"
    (change,) = partners["report"]["changes"]
    assert change == {
        "kind": "type_changed",
        "column": "customer_rank",
        "before": "integer",
        "after": "SMALLINT",
        "severity": "BREAKING",
    }
    assert partners["readers"] == {"*": ["customers"], "customer_rank": ["customers"]}
    assert by_source["erp.sale_order"]["severity"] == "NONE"
    table = runner.invoke(app, ["drift", "check"])
    assert (
        table.exit_code == 0
        and "column customer_rank changed type from integer to SMALLINT" in table.output
    )
    # on demand, read-only: nothing recorded, nobody paged
    assert rt.catalog.notifications.all() == []
    assert rt.catalog.source_drift.open() == {}


def test_the_alerting_sensors_are_in_the_location_and_on_by_default() -> None:
    from dagster import DefaultSensorStatus

    from orchestration.definitions import defs

    sensors = {s.name: s for s in defs.sensors}
    for name in ("spyne_dead_letters", "spyne_alerts", "spyne_source_drift", RECOVERED_SENSOR):
        assert sensors[name].default_status == DefaultSensorStatus.RUNNING, name
