"""kill -9 at chosen instants of the drift sensor taking ADDITIVE drift into its contract, and of
`spyne drift accept`: the next tick (or the same command again) finds the contract registry, the
drift reports, the alerts and the audit log agreeing: one new minor version per change, no
report left open for a change already registered, no alert paged twice, the audit chain whole.

Each instant adds one more column to the source (or turns one more to a lossy type), so one
site serves every kill and the registry grows by exactly one minor version per instant."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, build_sensor_context
from sqlglot import exp
from typer.testing import CliRunner

from orchestration.catalog import contracts as contracts_module
from orchestration.catalog import notifications as notifications_module
from orchestration.catalog.contracts import Contracts
from orchestration.catalog.notifications import Notifications
from orchestration.catalog.source_drift import SourceDriftReports
from orchestration.runtime import Runtime, runtime
from orchestration.sample.generator import generate
from orchestration.sensors.definitions import spyne_source_drift
from policies.modes import SystemMode
from policies.roles import Role
from tests.integration.sensor_kills import (
    Instant,
    assert_alerts_agree,
    audit_action,
    kill_after,
    kill_at,
)
from tests.pg import PgRoles

SOURCE = "erp.res_partner"
CONTRACT = "erp_res_partner"
RANDOM_KILLS = 12

INSTANTS = [
    Instant("report recorded", SourceDriftReports, "record", lambda a, r: r is not None),
    Instant(
        "inside the alert's raise", notifications_module, "append", audit_action("alert_opened")
    ),
    Instant("alert raised", Notifications, "raise_alert"),
    Instant(
        "inside the registration", contracts_module, "append", audit_action("register_contract")
    ),
    Instant("between registration and report closing", Contracts, "register"),
    Instant(
        "inside the alert's close", notifications_module, "append", audit_action("alert_closed")
    ),
    Instant("alert closed", Notifications, "close", lambda a, r: r is not None),
    Instant("report resolved", SourceDriftReports, "resolve", lambda a, r: bool(r)),
]
ACCEPT_INSTANTS = [
    Instant(
        "inside the registration", contracts_module, "append", audit_action("register_contract")
    ),
    Instant("between registration and report closing", Contracts, "register"),
    Instant(
        "inside the alert's close", notifications_module, "append", audit_action("alert_closed")
    ),
    Instant("alert closed", Notifications, "close", lambda a, r: r is not None),
    Instant("report resolved", SourceDriftReports, "resolve", lambda a, r: bool(r)),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site(
    spyne_home: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A new install whose catalog is a SQLite file, or a PostgreSQL database reached as the
    application role (a killed process's connection drops and its transaction rolls back)."""
    from orchestration.install import init

    if backend == "postgresql":
        roles: PgRoles = request.getfixturevalue("pg_roles")
        monkeypatch.setenv("SPYNE_CATALOG_URL", roles.app_url)
        monkeypatch.setenv("SPYNE_CATALOG_OWNER_URL", roles.owner_url)
    init()
    monkeypatch.delenv("SPYNE_CATALOG_OWNER_URL", raising=False)
    rt = runtime()
    assert rt.catalog.dialect == backend
    rt.catalog.create_principal("ada", Role.ADMIN, "test")
    _, service_key = rt.catalog.create_principal("dagster", Role.ENGINEER, "ada")
    _, eve_key = rt.catalog.create_principal("eve", Role.ENGINEER, "ada")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", service_key)
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=30)
    return {"rt": rt, "eve": eve_key}


def source_sql(rt: Runtime, sql: str) -> None:
    with duckdb.connect(str(rt.source_path)) as con:
        con.execute(sql)


def add_column(rt: Runtime, name: str, data_type: str) -> None:
    """The source's partners grow a column, as an ERP upgrade adds one."""
    column = exp.ColumnDef(this=exp.to_identifier(name), kind=exp.DataType.build(data_type))
    alter = exp.Alter(this=exp.to_table("res_partner"), kind="TABLE", actions=[column])
    source_sql(rt, alter.sql("duckdb"))


def tick() -> str:
    context = build_sensor_context(instance=DagsterInstance.ephemeral())
    return str(spyne_source_drift(context).skip_message)


def assert_agreeing(
    rt: Runtime, changes: int, reports: dict[str, int], at_least_once: bool = False
) -> None:
    catalog = rt.catalog
    versions = [v.version for v in catalog.contracts.versions(CONTRACT)]
    assert versions == [f"1.{n}.0" for n in range(changes + 1)], "one minor version per change"
    audit = catalog.list_audit(limit=100_000)
    registered = [
        e.details["version"]
        for e in audit
        if e.action == "register_contract" and e.target == f"contract:{CONTRACT}"
    ]
    assert sorted(registered) == sorted(versions)
    assert catalog.source_drift.open_reports() == [], "no report open for a registered change"
    counts, resolved = catalog.source_drift.counts()
    assert counts == {(SOURCE, k): n for k, n in reports.items()} and resolved == changes
    recorded = [e.details["report"] for e in audit if e.action == "source_drift_recorded"]
    resolved_by = [e.details["report"] for e in audit if e.action == "source_drift_resolved"]
    assert sorted(recorded) == sorted(resolved_by) == list(range(1, changes + 1))
    drift = [n for n in catalog.notifications.all(limit=10_000) if n.kind.value == "drift"]
    assert len(drift) == changes and not any(n.open for n in drift), "one alert per change"
    assert_alerts_agree(catalog, rt.home, at_least_once)


@pytest.mark.slow
def test_kill_9_while_the_sensor_takes_additive_drift_into_the_contract(
    site: dict[str, Any],
) -> None:
    rt = site["rt"]
    for n, instant in enumerate(INSTANTS, start=1):
        add_column(rt, f"extra_{n}", "VARCHAR")
        kill_at(instant, tick, rt.catalog.dispose)
        said = tick()  # the next tick
        assert "0 drifted" in said or '"ADDITIVE"' in said, (instant.label, said)
        if "0 drifted" not in said:  # the finding was closed by this tick's registration
            assert "0 drifted" in tick(), instant.label
        assert_agreeing(rt, n, {"ADDITIVE": n})


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_kill_9_at_random_instants_of_sensor_ticks(site: dict[str, Any]) -> None:
    """Wherever a tick is when it dies (reading the source, writing the catalog, delivering),
    the next ticks settle it; a kill between sending an alert and recording it may page twice."""
    rt = site["rt"]
    rng = random.Random(20261201)
    for n in range(1, RANDOM_KILLS + 1):
        add_column(rt, f"r_{n}", "VARCHAR")
        kill_after(rng.uniform(0.02, 0.6), tick, rt.catalog.dispose)
        tick()
        assert "0 drifted" in tick()
        assert_agreeing(rt, n, {"ADDITIVE": n}, at_least_once=True)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_kill_9_during_drift_accept_then_the_same_command_again(
    site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.cli import app

    rt = site["rt"]
    monkeypatch.setenv("SPYNE_API_KEY", site["eve"])
    runner = CliRunner()
    for n in range(len(ACCEPT_INSTANTS)):  # nullable: taken in at once, as 1.1.0
        add_column(rt, f"w_{n}", "INTEGER")
    tick()
    assert "0 drifted" in tick()
    for n, instant in enumerate(ACCEPT_INSTANTS, start=2):
        # INTEGER -> DOUBLE is lossy: a WARNING, for an engineer to accept
        source_sql(rt, f"ALTER TABLE res_partner ALTER COLUMN w_{n - 2} TYPE DOUBLE")
        assert '"WARNING"' in tick(), instant.label
        (report,) = rt.catalog.source_drift.open_reports()

        def accept(report_id: int = report.id) -> None:
            runner.invoke(app, ["drift", "accept", str(report_id)], catch_exceptions=False)

        kill_at(instant, accept, rt.catalog.dispose)
        again = runner.invoke(app, ["drift", "accept", str(report.id), "--json"])
        assert again.exit_code == 0, (instant.label, again.output)
        assert json.loads(again.output)["version"] == f"1.{n}.0", instant.label
        assert "0 drifted" in tick(), instant.label
        assert_agreeing(rt, n, {"ADDITIVE": 1, "WARNING": n - 1})
