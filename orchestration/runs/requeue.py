"""Launch a dead-lettered run again: same job, same selection, acting as the admin who asked.

The new run is a re-execution of the failed one (Dagster links them as parent and child), made
from the very code location the failed run came from (its recorded origin: in Kubernetes, the
user-code deployment's server), carries a run grant so it acts as the admin, and is submitted
to the instance's run queue like any run. The dead letter is claimed in the catalog (audited)
before the run is submitted; if the claim is refused, the run just created is deleted, so a
refused requeue leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.plan.resume_retry import ReexecutionStrategy
from dagster._core.remote_origin import CodeLocationOrigin
from dagster._core.workspace.context import BaseWorkspaceRequestContext, WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceLoadTarget

from orchestration.run_identity import LAUNCHED_BY_TAG, launch_tags
from orchestration.runs.tags import REQUEUED_FROM_TAG
from policies.errors import InvalidTransition, NotFound, StorageUnavailable, ValidationFailed
from policies.roles import Operation

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRun

    from orchestration.catalog import Catalog, DeadLetterInfo
    from orchestration.identity import Actor
    from orchestration.runtime import Runtime

_PREFIX = 8  # the Dagster UI shows a run by its first eight characters


class _Origin(WorkspaceLoadTarget):
    """A workspace of one code location: the one a run was launched from."""

    def __init__(self, origin: CodeLocationOrigin) -> None:
        self._origin = origin

    def create_origins(self) -> Sequence[CodeLocationOrigin]:
        return [self._origin]


@contextmanager
def _workspace(instance: DagsterInstance, run: DagsterRun) -> Iterator[BaseWorkspaceRequestContext]:
    if run.remote_job_origin is None:
        raise ValidationFailed(
            f"run {run.run_id} ran in-process and names no code location to launch it from; "
            "launch its job again from the UI",
            details={"run_id": run.run_id},
        )
    origin = run.remote_job_origin.repository_origin.code_location_origin
    with WorkspaceProcessContext(instance, _Origin(origin)) as context:
        workspace = context.create_request_context()
        errors = workspace.get_code_location_error(origin.location_name)
        if errors is not None:
            raise StorageUnavailable(
                f"the code location {origin.location_name} of run {run.run_id} did not load: "
                f"{errors.message.strip().splitlines()[0]}",
                details={"location": origin.location_name, "run_id": run.run_id},
            )
        yield workspace


def resolve_dead_letter(catalog: Catalog, ident: str) -> DeadLetterInfo:
    """A dead letter by its run id, or by a prefix of it as the UI shows runs."""
    wanted = ident.strip()
    if len(wanted) < _PREFIX:
        raise ValidationFailed(
            f"{ident!r} is too short to name a run: give its id or at least its first {_PREFIX} "
            "characters (see `spyne runs dead-letters`)",
            details={"run_id": ident},
        )
    found = [d for d in catalog.list_dead_letters(True) if d.run_id.startswith(wanted)]
    if len(found) > 1:
        raise ValidationFailed(
            f"{ident!r} names {len(found)} dead-lettered runs; give more of the run id",
            details={"run_id": ident, "matches": [d.run_id for d in found]},
        )
    if not found:
        return catalog.get_dead_letter(wanted)  # refuses, naming the list
    return found[0]


def requeue(rt: Runtime, actor: Actor, run_id: str, instance: DagsterInstance) -> DagsterRun:
    """Re-launch one dead letter (admin, audited); the new run is queued, not waited for."""
    target = f"run:{run_id}"
    rt.require(actor, Operation.REQUEUE_RUN, target)
    letter = rt.catalog.get_dead_letter(run_id)
    if letter.requeued:
        raise InvalidTransition(
            f"run {run_id} was already requeued as run {letter.requeued_run_id} by "
            f"{letter.requeued_by}; follow that run instead",
            details={"run_id": run_id, "requeued_run_id": letter.requeued_run_id},
        )
    failed = instance.get_run_by_id(run_id)
    if failed is None:
        raise NotFound(
            f"run {run_id} is in the dead-letter list but not in this Dagster instance; check "
            "DAGSTER_HOME (or SPYNE_DAGSTER_PG_URL)",
            details={"run_id": run_id},
        )
    with _workspace(instance, failed) as workspace:
        assert failed.remote_job_origin is not None
        repository = failed.remote_job_origin.repository_origin
        location = workspace.get_code_location(repository.code_location_origin.location_name)
        remote_job = location.get_job(
            JobSubsetSelector(
                location_name=location.name,
                repository_name=repository.repository_name,
                job_name=failed.job_name,
                op_selection=failed.op_selection,
                asset_selection=list(failed.asset_selection) if failed.asset_selection else None,
                asset_check_selection=(
                    list(failed.asset_check_selection)
                    if failed.asset_check_selection is not None
                    else None
                ),
            )
        )
        run = instance.create_reexecuted_run(
            request_context=workspace,
            parent_run=failed,
            code_location=location,
            remote_job=remote_job,
            strategy=ReexecutionStrategy.ALL_STEPS,
            extra_tags={REQUEUED_FROM_TAG: run_id, LAUNCHED_BY_TAG: actor.name},
            use_parent_run_tags=True,
        )
        try:
            instance.add_run_tags(run.run_id, launch_tags(rt.catalog, actor.principal, run.run_id))
            rt.catalog.claim_requeue(run_id, run.run_id, actor.name, actor.launched_by)
        except BaseException:
            instance.delete_run(run.run_id)
            raise
        instance.submit_run(run.run_id, workspace)
    submitted = instance.get_run_by_id(run.run_id)
    assert submitted is not None
    return submitted
