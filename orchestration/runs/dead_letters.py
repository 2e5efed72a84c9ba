"""The run-failure sensor that files runs whose retries are used up in the catalog's dead-letter list.

It runs in the code location (as its service principal, ``SPYNE_SERVICE_KEY``), sees every
failed run of the location's jobs, tags the run with its failure class, and asks
:func:`policies.failures.decide_dead_letter`: a run whose retries are used up is recorded with
its step history; any other failed run is audited with its class (refusals were audited where
they happened). A run that Dagster's run retries will launch again is left alone until its
last try.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from orchestration.runs.tags import FAILURE_CLASS_TAG, ORG_TAG
from policies.errors import AuthenticationRequired
from policies.failures import DeadLetterVerdict, decide_dead_letter

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRun

    from orchestration.catalog import Catalog

SENSOR_NAME = "spyne_dead_letters"
LAUNCHED_BY = f"sensor:{SENSOR_NAME}"
RUN_FAILED_ACTION = "run_failed"


def will_retry(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Whether Dagster's run retries (the daemon) launch this run again."""
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

    return bool(instance.run_retries_enabled and should_retry(run, instance))


def record_failed_run(
    instance: DagsterInstance,
    run: DagsterRun,
    catalog: Catalog,
    environ: Mapping[str, str] | None = None,
) -> DeadLetterVerdict:
    """Tag, classify and file one failed run; safe to call again for the same run."""
    from orchestration.catalog import NewDeadLetter
    from orchestration.run_identity import LAUNCHED_BY_TAG, SERVICE_KEY_ENV
    from orchestration.runs.history import attempts, run_failure

    env = os.environ if environ is None else environ
    key = (env.get(SERVICE_KEY_ENV) or "").strip()
    if not key:
        raise AuthenticationRequired(
            f"the {SENSOR_NAME} sensor files failed runs as the code location's service "
            f"principal: set {SERVICE_KEY_ENV} (an admin creates it: `spyne auth create-key "
            "dagster --role engineer`)",
            details={"variable": SERVICE_KEY_ENV, "sensor": SENSOR_NAME},
        )
    service = catalog.authenticate(key)
    retrying = will_retry(instance, run)
    failure = run_failure(instance, run, retrying)
    verdict = decide_dead_letter(failure)
    if verdict.failure_class is not None:
        instance.add_run_tags(run.run_id, {FAILURE_CLASS_TAG: verdict.failure_class.value})
    if verdict.dead_letter:
        assert verdict.failure_class is not None
        record = instance.get_run_record_by_id(run.run_id)
        ended = record.end_time if record is not None and record.end_time else None
        catalog.record_dead_letter(
            NewDeadLetter(
                run_id=run.run_id,
                job_name=run.job_name,
                selection={
                    "assets": sorted(k.to_user_string() for k in run.asset_selection or ()) or None,
                    "checks": sorted(
                        f"{c.asset_key.to_user_string()}:{c.name}"
                        for c in run.asset_check_selection or ()
                    )
                    or None,
                    "ops": sorted(run.op_selection) if run.op_selection else None,
                },
                failure_class=verdict.failure_class,
                why=verdict.why,
                steps=[a.to_dict() for a in attempts(instance, run.run_id)],
                failed_at=datetime.fromtimestamp(ended, UTC) if ended else datetime.now(UTC),
                org=run.tags.get(ORG_TAG),
                launched_by=run.tags.get(LAUNCHED_BY_TAG) or run.tags.get("dagster/schedule_name"),
            ),
            service.name,
            LAUNCHED_BY,
        )
    elif not retrying:
        catalog.audit(
            service.name,
            RUN_FAILED_ACTION,
            f"run:{run.run_id}",
            "recorded",
            {
                "job": run.job_name,
                "failure_class": verdict.failure_class.value if verdict.failure_class else None,
                "why": verdict.why,
            },
            LAUNCHED_BY,
        )
    return verdict


@run_failure_sensor(
    name=SENSOR_NAME,
    description="Files runs whose retries are used up in the dead-letter list (`spyne runs "
    "dead-letters`), with each step's failure class; tags every failed run with its class and "
    "alerts on it (`spyne alerts list`).",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def spyne_dead_letters(context: RunFailureSensorContext) -> None:
    from orchestration.runtime import runtime
    from orchestration.sensors.definitions import alert_failed_run_of

    rt = runtime()
    run = context.dagster_run
    verdict = record_failed_run(context.instance, run, rt.catalog)
    if not will_retry(context.instance, run):  # a run Dagster launches again alerts on its last try
        alert_failed_run_of(rt, run.job_name, run.run_id, verdict)
