"""`spyne runs`: runs whose retries are used up (the dead-letter list), and launching one again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    new_app,
    out,
    refusals,
    runtime,
    table,
)

if TYPE_CHECKING:
    from orchestration.catalog import DeadLetterInfo

app = new_app("Runs whose retries are used up: list them, requeue one.")


def _history(letter: DeadLetterInfo) -> str:
    """Each failed step once: how many tries it had and how its last one failed."""
    last: dict[str, tuple[int, str]] = {}
    for attempt in letter.steps:
        last[str(attempt.get("step"))] = (
            int(attempt.get("attempt") or 0),
            str(attempt.get("class")),
        )
    return "; ".join(f"{step}: {n} tries, {cls}" for step, (n, cls) in last.items()) or "-"


@app.command("dead-letters")
def dead_letters(
    as_json: JsonOpt = False,
    include_requeued: Annotated[
        bool, typer.Option("--all", help="Include dead letters already requeued.")
    ] = False,
) -> None:
    """Runs whose retries are used up, newest first, with each step's failures (engineer or admin)."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.VIEW_DEAD_LETTERS, "dead_letters")
        letters = rt.catalog.list_dead_letters(include_requeued=include_requeued)
    if as_json:
        emit_json([letter.to_dict() for letter in letters])
        return
    if not letters:
        out.print("no dead letters: every failed run was retried to success or refused for good")
        return
    out.print(
        table(
            "dead letters (requeue one with `spyne runs requeue RUN_ID`, admin)",
            ["run", "job", "org", "class", "failed at", "steps", "requeued as"],
            [
                [
                    letter.run_id,
                    letter.job_name,
                    letter.org,
                    letter.failure_class.value,
                    letter.failed_at.strftime("%Y-%m-%d %H:%M"),
                    _history(letter),
                    letter.requeued_run_id[:8] if letter.requeued_run_id else None,
                ]
                for letter in letters
            ],
        )
    )


@app.command("requeue")
def requeue(
    run_id: Annotated[
        str, typer.Argument(help="The dead-lettered run (its id, or the first 8+ characters).")
    ],
) -> None:
    """Launch a dead-lettered run again (admin, audited): same job and selection, acting as you."""
    from orchestration.dagster_instance import dagster_instance
    from orchestration.runs.requeue import requeue as requeue_run
    from orchestration.runs.requeue import resolve_dead_letter

    with refusals():
        rt = runtime()
        me = actor(rt)
        letter = resolve_dead_letter(rt.catalog, run_id)
        with dagster_instance(rt.settings) as instance:
            run = requeue_run(rt, me, letter.run_id, instance)
    out.print(
        f"run {letter.run_id} requeued as run {run.run_id} ({run.status.value}), acting as "
        f"{me.name}; follow it in the Dagster UI"
    )
