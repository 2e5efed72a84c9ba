"""The one Dagster code location: every layer's assets and gates, the jobs, their schedules.

Jobs are declared by asset selection and resolved by Dagster when it loads the location,
never here; nothing of the catalog or the warehouse is imported until a run needs it. Every job
carries the organisation tag the run queue limits by, every step a retry policy by failure
class, and the ``spyne_dead_letters`` sensor files runs whose retries are used up.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    OpExecutionContext,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
    job,
    op,
)

from orchestration.assets.dbt_resource import SpyneDbtCliResource
from orchestration.assets.ingest_jobs import ingest_backfill, ingest_replay
from orchestration.assets.join_candidates import join_candidates
from orchestration.assets.layers import all_layer_definitions
from orchestration.assets.project import (
    dbt_executable,
    dbt_project,
    kept_for_process_lifetime,
    tables_in,
)
from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.runs.dead_letters import spyne_dead_letters
from orchestration.runs.retries import RETRY_POLICY, failures_classified
from orchestration.runs.tags import job_tags
from orchestration.sensors.definitions import spyne_alerts, spyne_run_recovered, spyne_source_drift
from orchestration.sensors.freshness_definitions import CHECKS as FRESHNESS_CHECKS
from orchestration.sensors.freshness_definitions import JOB as FRESHNESS_JOB
from orchestration.sensors.freshness_definitions import SENSOR as FRESHNESS_SENSOR
from policies.errors import SpyneError
from policies.naming import Layer

with kept_for_process_lifetime():  # the bulk of the location: every spec, check and step
    assets = all_layer_definitions()
    # One job per layer that has tables (build, gates and publish); the demo runs them in order.
    LAYER_JOBS: dict[Layer, str] = {
        layer: f"{layer.value}_layer" for layer in Layer if tables_in(layer)
    }

layer_jobs = [
    define_asset_job(
        name,
        selection=AssetSelection.groups(layer.value),
        description=f"Build, gate and publish the {layer.value} layer.",
        tags=job_tags(),
    )
    for layer, name in LAYER_JOBS.items()
]

# The whole graph: sources are READ_ONLY specs, everything else is built, gated and published.
spyne_job = define_asset_job(
    "spyne_daily",
    selection=AssetSelection.all(),
    description="Ingest, build, gate and publish every layer.",
    tags=job_tags(),
)


@op(
    description="Drop versions outside retention that are neither ACTIVE nor the newest (audited).",
    retry_policy=RETRY_POLICY,
)
def drop_expired_versions(
    context: OpExecutionContext, spyne: SpyneResource
) -> dict[str, list[int]]:
    try:
        with failures_classified():
            dropped = spyne.runtime().service().janitor(spyne.actor(context))
    except SpyneError as err:
        raise as_failure(err) from err
    context.log.info(f"dropped: {dropped or 'nothing'}")
    return dropped


@job(
    description="The retention janitor: what `spyne tables janitor` does, on a schedule.",
    tags=job_tags(),
)
def spyne_janitor() -> None:
    drop_expired_versions()


janitor_schedule = ScheduleDefinition(
    name="spyne_janitor_schedule",
    job=spyne_janitor,
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)

daily = ScheduleDefinition(
    name="spyne_daily_schedule",
    job=spyne_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)

defs = Definitions(
    assets=[*assets, join_candidates],
    asset_checks=FRESHNESS_CHECKS,
    jobs=[spyne_job, *layer_jobs, spyne_janitor, FRESHNESS_JOB, ingest_replay, ingest_backfill],
    schedules=[daily, janitor_schedule],
    sensors=[
        spyne_dead_letters,
        spyne_alerts,
        spyne_source_drift,
        spyne_run_recovered,
        FRESHNESS_SENSOR,
    ],
    resources={
        "dbt": SpyneDbtCliResource(
            project_dir=str(dbt_project().project_dir),
            profiles_dir=str(dbt_project().profiles_dir),
            target=dbt_project().target,
            dbt_executable=dbt_executable(),
        ),
        "spyne": SpyneResource.from_environment(),
    },
    # DuckDB allows one writer process at a time: run a job's steps in one process.
    executor=in_process_executor,
)
