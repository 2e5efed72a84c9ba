"""The Dagster instance for this environment, and runs launched the way the UI launches them.

SQLite storage locally, PostgreSQL in ci/prod. :func:`instance_config` is the one source of the
instance's configuration: runs wait in a queue (a ``QueuedRunCoordinator``: at most
``MAX_CONCURRENT_RUNS`` at once, at most ``ORG_CONCURRENCY`` per organisation tag) and a run
whose worker died is launched again up to ``RUN_RETRIES`` times (failed steps are retried by
their own retry policy instead, by failure class: :mod:`orchestration.runs.retries`). Locally
and in ci Spyne writes it to ``$DAGSTER_HOME/dagster.yaml``; in prod the Dagster Helm chart
writes the instance's configuration from ``deploy/helm/values.yaml``, which a test holds equal
to this one. Runs started from Spyne's own commands are
created from the workspace's code location (the one `spyne ui` serves), so they carry the
repository origin the UI files runs by: they show under their jobs, their assets and the
Overview timeline like any run launched from the UI. They execute in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from dagster import DagsterInstance

from orchestration.environment import REPO_ROOT
from orchestration.runs.tags import ORG_TAG
from policies.errors import ConfigError
from policies.settings import Environment, SpyneSettings

if TYPE_CHECKING:
    from dagster._core.remote_representation.code_location import CodeLocation
    from dagster._core.storage.dagster_run import DagsterRun

DAGSTER_PG_ENV = "SPYNE_DAGSTER_PG_URL"
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"

MAX_CONCURRENT_RUNS = 10
ORG_CONCURRENCY = 3  # runs of one organisation (one value of the spyne/org tag) at once
RUN_RETRIES = 2  # relaunches of a run whose worker died (not of failed steps)


def run_queue_config() -> dict[str, object]:
    return {
        "max_concurrent_runs": MAX_CONCURRENT_RUNS,
        "tag_concurrency_limits": [
            {"key": ORG_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": ORG_CONCURRENCY}
        ],
        "dequeue_interval_seconds": 5,
    }


def instance_config(s: SpyneSettings) -> dict[str, object]:
    config: dict[str, object] = {
        "telemetry": {"enabled": False},
        "run_coordinator": {
            "module": "dagster",
            "class": "QueuedRunCoordinator",
            "config": run_queue_config(),
        },
        "run_retries": {
            "enabled": True,
            "max_retries": RUN_RETRIES,
            # A failed step is retried (or not) by its class; retrying the whole run on top of
            # that would retry terminal failures too.
            "retry_on_asset_or_op_failure": False,
        },
    }
    if s.env != Environment.LOCAL:
        if not os.environ.get(DAGSTER_PG_ENV):
            raise ConfigError(
                f"{DAGSTER_PG_ENV} must be set when SPYNE_ENV={s.env.value} (Dagster runs are stored in PostgreSQL)",
                details={"variable": DAGSTER_PG_ENV, "env": s.env.value},
            )
        config["storage"] = {"postgres": {"postgres_url": {"env": DAGSTER_PG_ENV}}}
    return config


def ensure_dagster_home(s: SpyneSettings) -> Path:
    """Write $DAGSTER_HOME/dagster.yaml for the environment (idempotent) and export DAGSTER_HOME.

    In prod the deployment owns it (the Helm chart mounts the instance's configuration there):
    Spyne only checks that it is there.
    """
    home = Path(s.dagster_home)
    path = home / "dagster.yaml"
    if s.env == Environment.PROD:
        if not path.is_file():
            raise ConfigError(
                f"{path} does not exist: in prod the Dagster deployment provides the instance's "
                "configuration (the Helm chart mounts it in $DAGSTER_HOME); set DAGSTER_HOME to it",
                details={"variable": "DAGSTER_HOME", "path": str(path)},
            )
        os.environ["DAGSTER_HOME"] = str(home)
        return home
    home.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(instance_config(s), sort_keys=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def dagster_instance(s: SpyneSettings) -> DagsterInstance:
    ensure_dagster_home(s)
    return DagsterInstance.get()


@contextmanager
def workspace_location(instance: DagsterInstance) -> Iterator[CodeLocation]:
    """The workspace's code location, loaded in this process under the name the UI gives it."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    (served,) = location_origins_from_yaml_paths([str(WORKSPACE_FILE)])
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=served.loadable_target_origin,  # type: ignore[attr-defined]
        location_name=served.location_name,
    )
    with origin.create_location(instance) as location:
        yield location


def create_run(
    instance: DagsterInstance,
    location: CodeLocation,
    job_name: str,
    run_config: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> DagsterRun:
    """A run of a job from the code location, as `dagster job launch` creates it (not started).

    ``run_id`` and ``tags`` are the run's own (e.g. who launched it), over the job's tags.
    """
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(job_name)
    config = dict(run_config or {})
    plan = location.get_execution_plan(
        remote_job, config, step_keys_to_execute=None, known_state=None, instance=instance
    ).execution_plan_snapshot
    return instance.create_run(
        job_name=job_name,
        run_id=run_id,
        run_config=config,
        status=None,
        tags={**remote_job.tags, **(tags or {})},
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=plan,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=None,
        asset_check_selection=None,
        resolved_op_selection=remote_job.resolved_op_selection,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=repository.asset_graph,
    )


def run_job(
    instance: DagsterInstance,
    location: CodeLocation,
    job_name: str,
    run_config: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> DagsterRun:
    """Create a run of a job from the code location (:func:`create_run`) and run it here."""
    from dagster._core.execution.api import execute_run
    from dagster._utils.hosted_user_process import recon_job_from_origin

    run = create_run(instance, location, job_name, run_config, run_id=run_id, tags=tags)
    assert run.job_code_origin is not None
    execute_run(recon_job_from_origin(run.job_code_origin), run, instance)
    finished = instance.get_run_by_id(run.run_id)
    assert finished is not None
    return finished
