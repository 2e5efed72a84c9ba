"""Freshness on event time end to end: a real DuckDB warehouse and SQLite catalog, Dagster's
last-update freshness checks run in-process on an ephemeral instance, the ``spyne_freshness``
sensor evaluated with Dagster's sensor test utilities, and Dagster's clock frozen (no sleeps).

res_partner's contract: warn past 14 days, breach past 30 days of event-time lag."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import (
    AssetSpec,
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    build_sensor_context,
)
from dagster._core.test_utils import freeze_time

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.runtime import runtime
from orchestration.sample.generator import generate
from orchestration.sensors.freshness import LAST_UPDATED, Cursor
from orchestration.sensors.freshness_definitions import (
    CHECKS,
    FRESHNESS_JOB,
    JOB,
    SENSOR,
    SOURCES,
)
from policies.contracts import parse_contract
from policies.freshness import next_delivery_due
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

PARTNERS = TableRef(Layer.BRONZE, "res_partner")
CONTRACT = "erp_res_partner"


@pytest.fixture
def site(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    rt = runtime()
    admin, _ = rt.catalog.create_principal("ada", Role.ADMIN, "test")
    service, key = rt.catalog.create_principal("dagster", Role.ENGINEER, "ada")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", key)
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=30)
    return {"rt": rt, "admin": Actor(admin), "runner": Actor(service, "schedule:test")}


def land(site: dict[str, Any], first: bool = False) -> None:
    rt, runner = site["rt"], site["runner"]
    svc = rt.service()
    info, _ = svc.ingest(runner, PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(PARTNERS.canonical, info.version, "passed", actor=runner.name)
    if first:
        svc.promote(site["admin"], PARTNERS.canonical, info.version)
    else:
        assert svc.publish_automatic(runner, PARTNERS.canonical, info.version).applied


def add_partner(site: dict[str, Any], new_id: int, write_date: datetime) -> None:
    """One more source row (a copy of another) with its own id and event time."""
    with duckdb.connect(str(site["rt"].source_path)) as con:
        con.execute("CREATE TEMP TABLE extra AS SELECT * FROM res_partner LIMIT 1")
        con.execute(
            "UPDATE extra SET id = ?, write_date = ?", [new_id, write_date.replace(tzinfo=None)]
        )
        con.execute("INSERT INTO res_partner SELECT * FROM extra")


def newest_in_source(site: dict[str, Any]) -> datetime:
    with duckdb.connect(str(site["rt"].source_path), read_only=True) as con:
        row = con.execute("SELECT max(write_date) FROM res_partner").fetchone()
    assert row is not None
    return row[0].replace(tzinfo=UTC)


class Clock:
    """The sensor and the checks it asks for, at an instant of Dagster's frozen clock."""

    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self.cursor: str | None = None
        keys = [key for key, _ in SOURCES.values()]
        self.job = Definitions(
            assets=[AssetSpec(k) for k in keys], asset_checks=CHECKS, jobs=[JOB]
        ).resolve_job_def(FRESHNESS_JOB)
        self.runs = 0

    def tick(self, at: datetime) -> SensorResult:
        with freeze_time(at):
            context = build_sensor_context(instance=self.instance, cursor=self.cursor)
            result = SENSOR(context)
            assert isinstance(result, SensorResult)
            self.cursor = result.cursor
            for request in result.run_requests or []:
                assert isinstance(request, RunRequest) and request.asset_check_keys
                subset = self.job.get_subset(asset_check_selection=set(request.asset_check_keys))
                assert subset.execute_in_process(instance=self.instance).success
                self.runs += 1
        return result

    def settle(self, at: datetime) -> SensorResult:
        """A tick that may launch the due checks, then the tick that reads their verdicts."""
        self.tick(at)
        return self.tick(at)


def freshness_alerts(catalog: Catalog, open_only: bool = True) -> list[Any]:
    return [
        n for n in catalog.notifications.all(open_only=open_only) if n.kind.value == "freshness"
    ]


def test_freshness_on_event_time_alerts_once_and_clears(site: dict[str, Any]) -> None:
    rt = site["rt"]
    land(site, first=True)
    newest = newest_in_source(site)
    instance = DagsterInstance.ephemeral()
    clock = Clock(instance)

    # fresh: the newest event time is observed as the source asset's last update; one check runs
    clock.settle(newest + timedelta(hours=1))
    assert clock.runs == 1
    assert Cursor.parse(clock.cursor).status == {CONTRACT: "FRESH"}
    assert freshness_alerts(rt.catalog) == []
    # nothing changes: no check is asked for again
    result = clock.tick(newest + timedelta(days=2))
    assert not result.run_requests and clock.runs == 1

    # past alert_threshold (14 days): late, a warning
    clock.settle(newest + timedelta(days=15))
    assert clock.runs == 2
    (alert,) = freshness_alerts(rt.catalog)
    assert alert.severity.label == "warning" and alert.subject == CONTRACT
    assert alert.details["status"] == "LATE" and alert.details["lag_s"] == 15 * 86_400

    # past max_lag (30 days): a breach, critical; the warning is closed, the breach pages once
    clock.settle(newest + timedelta(days=31))
    (alert,) = freshness_alerts(rt.catalog)
    assert alert.severity.label == "critical" and alert.details["status"] == "BREACH"
    assert "past the SLA's max_lag of 30d" in alert.title
    for _ in range(2):
        clock.settle(newest + timedelta(days=32))
    assert clock.runs == 3  # nothing new to evaluate
    assert len(freshness_alerts(rt.catalog, open_only=False)) == 2
    log = (rt.home / "alerts.log").read_text().splitlines()
    assert sum('"freshness"' in line for line in log) == 2

    # late rows filling an old day land, and are published: still a breach
    add_partner(site, 900_001, newest - timedelta(days=10))
    land(site)
    clock.settle(newest + timedelta(days=33))
    assert clock.runs == 3
    assert freshness_alerts(rt.catalog)[0].details["status"] == "BREACH"

    # an event of today lands: fresh again, the alert is closed
    now = newest + timedelta(days=34)
    add_partner(site, 900_002, now - timedelta(hours=2))
    land(site)
    clock.settle(now)
    assert clock.runs == 4
    assert freshness_alerts(rt.catalog) == []
    assert Cursor.parse(clock.cursor).status == {CONTRACT: "FRESH"}
    observations = instance.fetch_observations(SOURCES[CONTRACT][0], limit=10).records
    stamps = [r.asset_event.metadata[LAST_UPDATED].value for r in observations]  # type: ignore[union-attr]
    assert stamps == [(now - timedelta(hours=2)).timestamp(), newest.timestamp()]


def test_a_weekly_source_is_not_late_before_its_next_delivery(site: dict[str, Any]) -> None:
    """A contract delivered on Mondays at 03:00 (UTC) with an SLA of hours: not late in between,
    judged by its lag as soon as the next Monday's delivery is due (the check runs then)."""
    rt = site["rt"]
    document = copy.deepcopy(dict(rt.catalog.contracts.get(CONTRACT).document))
    document["version"] = "1.1.0"
    weekly = {"max_lag": "2h", "alert_threshold": "1h", "schedule": "0 3 * * 1"}
    document["customProperties"][0]["value"]["freshness"] = weekly
    rt.catalog.contracts.register(parse_contract(document, "weekly"), "ada", None, source="test")
    land(site, first=True)
    newest = newest_in_source(site)
    due = next_delivery_due(weekly["schedule"], newest)
    assert due is not None and due.weekday() == 0 and due - newest > timedelta(days=7)
    clock = Clock(DagsterInstance.ephemeral())

    clock.settle(newest + timedelta(hours=3))  # past max_lag, but no delivery is missing yet
    assert clock.runs == 1 and freshness_alerts(rt.catalog) == []
    assert Cursor.parse(clock.cursor).status == {CONTRACT: "FRESH"}
    assert not clock.tick(due - timedelta(seconds=1)).run_requests

    clock.settle(due + timedelta(seconds=1))
    assert clock.runs == 2
    (alert,) = freshness_alerts(rt.catalog)
    assert alert.details["status"] == "BREACH"
