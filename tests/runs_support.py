"""Helpers for the run-queue and dead-letter tests: a Dagster instance on PostgreSQL configured by
Spyne's own instance_config, the test code location served by a real gRPC code server, and the
queued-run coordinator's daemon loop run in this process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import PythonFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

from orchestration.dagster_instance import create_run

ROOT = Path(__file__).resolve().parents[1]
LOCATION_FILE = ROOT / "tests" / "integration" / "runs_location.py"
LOCATION_NAME = "spyne_runs_test"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
IN_PROGRESS = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}


@contextmanager
def served_location(instance: DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    target = PythonFileTarget(
        python_file=str(LOCATION_FILE),
        attribute=None,
        working_directory=str(ROOT),
        location_name=LOCATION_NAME,
    )
    import psutil

    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    try:
        with WorkspaceProcessContext(instance, target) as context:
            yield context
    finally:
        # The code server is asked to stop, not waited for; one still stopping when the test's
        # database is dropped retries it for ever. Wait a moment, then end it.
        servers = [c for c in me.children(recursive=True) if c.pid not in before]
        _gone, alive = psutil.wait_procs(servers, timeout=10)
        for server in alive:
            server.kill()


def submit(context: WorkspaceProcessContext, job_name: str) -> DagsterRun:
    """Create a run from the served location and hand it to the instance's run coordinator."""
    workspace = context.create_request_context()
    location = workspace.get_code_location(LOCATION_NAME)
    run = create_run(context.instance, location, job_name)
    context.instance.submit_run(run.run_id, workspace)
    return run


def dequeue_until(
    context: WorkspaceProcessContext,
    done: Callable[[], bool],
    on_tick: Callable[[], None] = lambda: None,
    timeout_s: float = 240.0,
) -> None:
    """The queued-run coordinator's daemon loop, here, until ``done()`` (or a deadline: a hang)."""
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "runs did not finish: the queue is stuck"
        list(daemon.run_iteration(context))
        on_tick()
        time.sleep(0.2)


def statuses(instance: DagsterInstance, run_ids: list[str]) -> dict[str, DagsterRunStatus]:
    out = {}
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        out[run_id] = run.status
    return out
