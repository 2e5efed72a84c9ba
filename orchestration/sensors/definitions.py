"""The alerting sensors of the code location, on by default, with cursors kept by Dagster.

Loading the location imports only Dagster here; every body imports the catalog, the warehouse
and the checks when it runs. Each sensor acts as the service principal (``SPYNE_SERVICE_KEY``)
and launches no run: it records and alerts, then says what it did in its skip reason.

- ``spyne_alerts`` follows the audit log (cursor: the last entry id handled) for gate failures
  and ingestion refusals, and retries due alert deliveries every tick;
- ``spyne_source_drift`` compares every READ_ONLY source with its expected schema (cursor: each
  source's last finding, so a restart does not lose what was already reported);
- ``spyne_run_recovered`` clears a job's run-failure alert when a run of it succeeds (the
  failures themselves are raised by ``spyne_dead_letters``, which already sees every failed run).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    sensor,
)

if TYPE_CHECKING:
    from dagster import SensorDefinition

    from orchestration.alerts.service import Alerts
    from orchestration.runtime import Runtime
    from orchestration.sensors.source_drift import ExpectedSchemaProvider

ALERTS_SENSOR = "spyne_alerts"
DRIFT_SENSOR = "spyne_source_drift"
RECOVERED_SENSOR = "spyne_run_recovered"


def sensor_alerts(rt: Runtime, sensor_name: str, target: str) -> Alerts:
    """The service principal's alerts, after its role and the mode allow ``target``'s check."""
    from orchestration.alerts.service import alerts_for
    from orchestration.sensors.identity import sensor_actor
    from policies.roles import Operation

    actor = sensor_actor(rt.catalog, sensor_name)
    operation = Operation.CHECK_DRIFT if sensor_name == DRIFT_SENSOR else Operation.VIEW_ALERTS
    rt.require(actor, operation, target)
    return alerts_for(rt.catalog, rt.home, actor.name, actor.launched_by)


@sensor(
    name=ALERTS_SENSOR,
    description="Alerts on failed gates and refused ingestion (read from the audit log), clears "
    "them when the table passes or lands again; retries alert deliveries that failed.",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def spyne_alerts(context: SensorEvaluationContext) -> SkipReason:
    from orchestration.runtime import runtime
    from orchestration.sensors.alert_feed import follow

    rt = runtime()
    alerts = sensor_alerts(rt, ALERTS_SENSOR, "alerts")
    cursor, handled = follow(rt.catalog, alerts, int(context.cursor or 0))
    context.update_cursor(str(cursor))
    return SkipReason(f"{handled} audit entries read up to #{cursor}; no run to launch")


def source_drift_sensor(provider: ExpectedSchemaProvider | None = None) -> SensorDefinition:
    """The drift sensor over READ_ONLY sources; ``provider`` says what each source is held to."""

    @sensor(
        name=DRIFT_SENSOR,
        description="Compares every READ_ONLY source's live schema (information schema, no data "
        "read) with its expected schema; records each finding and alerts on it.",
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def spyne_source_drift(context: SensorEvaluationContext) -> SkipReason:
        from orchestration.runtime import runtime
        from orchestration.sensors.contract_evolution import register_following
        from orchestration.sensors.identity import sensor_actor
        from orchestration.sensors.source_drift import SourceCheck, check_install, record_checks
        from policies.errors import SpyneError

        rt = runtime()
        alerts = sensor_alerts(rt, DRIFT_SENSOR, "sources")
        checks = check_install(rt, provider)
        me = sensor_actor(rt.catalog, DRIFT_SENSOR)

        def evolve(check: SourceCheck, report_id: int) -> str | None:
            try:
                return register_following(rt, me, check, report_id)
            except SpyneError as err:  # e.g. someone registered that version meanwhile
                context.log.warning(f"drift report #{report_id} not taken in: {err.message}")
                return None

        record_checks(rt.catalog, alerts, checks, evolve)
        findings = {c.source: c.severity.name for c in checks if c.expected_from is not None}
        context.update_cursor(json.dumps(findings, sort_keys=True))
        drifted = {s: v for s, v in findings.items() if v != "NONE"}
        unchecked = len(checks) - len(findings)
        return SkipReason(
            f"{len(findings)} sources checked, {len(drifted)} drifted "
            f"{json.dumps(drifted, sort_keys=True) if drifted else ''}; {unchecked} not checked "
            "(no source yet, or neither a contract nor a landed version to hold it to)"
        )

    return spyne_source_drift


spyne_source_drift = source_drift_sensor()


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name=RECOVERED_SENSOR,
    description="Clears a job's run-failure alert when a run of the job succeeds.",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def spyne_run_recovered(context: RunStatusSensorContext) -> None:
    from orchestration.runtime import runtime
    from orchestration.sensors.run_alerts import clear_job

    rt = runtime()
    alerts = sensor_alerts(rt, RECOVERED_SENSOR, "alerts")
    clear_job(alerts, context.dagster_run.job_name, context.dagster_run.run_id)


def alert_failed_run_of(rt: Runtime, job: str, run_id: str, verdict: object) -> None:
    """Called by the dead-letter sensor for a run that will not be retried."""
    from orchestration.runs.dead_letters import SENSOR_NAME
    from orchestration.sensors.run_alerts import alert_failed_run
    from policies.failures import DeadLetterVerdict

    assert isinstance(verdict, DeadLetterVerdict)
    alert_failed_run(sensor_alerts(rt, SENSOR_NAME, f"run:{run_id}"), job, run_id, verdict)
