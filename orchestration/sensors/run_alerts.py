"""Failed Spyne runs as alerts: one open condition per job, cleared when the job next succeeds.

The dead-letter sensor already sees every failed run and classifies it; it calls
:func:`alert_failed_run` once the run will not be retried, so a run Dagster retries pages only
if its last try fails too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.catalog.notifications import NewAlert
from policies.alerts import AlertKind, AlertSeverity

if TYPE_CHECKING:
    from orchestration.alerts.service import Alerts
    from orchestration.catalog.notifications import Raised
    from policies.failures import DeadLetterVerdict


def alert_failed_run(alerts: Alerts, job: str, run_id: str, verdict: DeadLetterVerdict) -> Raised:
    failure_class = verdict.failure_class.value if verdict.failure_class else None
    severity = AlertSeverity.CRITICAL if verdict.dead_letter else AlertSeverity.WARNING
    where = (
        "its retries are used up (`spyne runs dead-letters`)"
        if verdict.dead_letter
        else "it was not retried"
    )
    return alerts.raise_alert(
        NewAlert(
            AlertKind.RUN_FAILURE,
            severity,
            job,
            f"run {run_id} of {job} failed ({failure_class or 'unclassified'}); {where}",
            {"job": job, "run_id": run_id, "failure_class": failure_class, "why": verdict.why},
        )
    )


def clear_job(alerts: Alerts, job: str, run_id: str) -> None:
    alerts.clear(AlertKind.RUN_FAILURE, job, f"run {run_id} of {job} succeeded")
