"""`spyne ingest`: contract-driven loads, and replay / backfill behind a mandatory dry run."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    emit_json,
    err_console,
    new_app,
    out,
    refusals,
    rich_console,
    runtime,
    table,
)

if TYPE_CHECKING:
    from orchestration.ingestion.replay import Estimate
    from policies.dry_runs import RunArguments

app = new_app("Ingestion by contract: load new batches, replay or backfill a time range.")

StartOpt = Annotated[
    str, typer.Option("--start", help="Start of the range (event time, ISO 8601, UTC), inclusive.")
]
EndOpt = Annotated[
    str, typer.Option("--end", help="End of the range (event time, ISO 8601, UTC), exclusive.")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Estimate and preview; write nothing; print the id.")
]
DryRunIdOpt = Annotated[
    str | None,
    typer.Option("--dry-run-id", help="The id its dry run printed (admin; same arguments)."),
]
ContractArg = Annotated[str, typer.Argument(help="The contract id, e.g. erp_sale_order.")]


@app.command("run")
def run(
    contract: Annotated[
        str | None, typer.Argument(help="One contract id (default: every registered contract).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Land each contract's new batch with dlt and build its next bronze version (engineer).

    The versions wait for their gates and publish like any bronze build; `spyne demo` and the
    `bronze_layer` job gate and publish them too.
    """
    from orchestration.ingestion.bronze import contract_by_id, contract_for
    from orchestration.ingestion.runner import bronze_ingest
    from policies.naming import Layer, TableRef

    with refusals():
        rt = runtime()
        me = actor(rt)
        if contract is None:
            contracts = [
                contract_for(rt.catalog, TableRef(Layer.BRONZE, i.table))
                for i in rt.catalog.contracts.latest()
            ]
        else:
            contracts = [contract_by_id(rt.catalog, contract)]
        ingest = bronze_ingest(rt)
        results: list[dict[str, Any]] = []
        for c in contracts:
            info, manifest, batch = ingest.ingest(me, c, None)
            for w in batch.warnings:
                err_console.print(f"warning: {w}")
            results.append(
                {
                    "contract": c.id,
                    "table": info.table_name,
                    "version": info.version,
                    "rows": manifest.row_count,
                    "rows_delivered": batch.delivered,
                    "rows_accepted": batch.accepted,
                    "batches": list(batch.batches),
                }
            )
    if as_json:
        emit_json(results)
        return
    for r in results:
        out.print(
            f"{r['table']} v{r['version']}: {r['rows_delivered']} new rows, "
            f"{r['rows_accepted']} entered ({r['rows']} rows in the version; not yet published)"
        )


def _when(text: str, option: str) -> datetime:
    from datetime import UTC

    from policies.errors import ValidationFailed

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"{option} {text!r} is not an ISO 8601 time; write e.g. 2026-06-01 or "
            "2026-06-01T08:00:00",
            details={"option": option, "value": text},
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _arguments(
    kind: str, contract: str, start: str, end: str, batch_size: int | None
) -> RunArguments:
    from policies.dry_runs import RunArguments, RunKind

    with refusals():
        return RunArguments(
            RunKind(kind), contract, _when(start, "--start"), _when(end, "--end"), batch_size
        )


def _show_estimate(dry_run_id: str, args: RunArguments, estimate: Estimate) -> None:
    out.print(
        f"dry run {dry_run_id} ({args.kind.value} {args.contract_id}, "
        f"{args.start.isoformat()} to {args.end.isoformat()}): {estimate.delivered} rows in the "
        f"range, {estimate.accepted} would enter bronze, {estimate.dropped} dropped by dedupe "
        f"(repeats, or older than what bronze holds)"
    )
    if estimate.preview:
        out.print(
            table(
                f"first {len(estimate.preview)} rows that would enter",
                list(estimate.preview_columns),
                [list(r) for r in estimate.preview],
            )
        )
    out.print(
        f"to run it for real (admin, within 30 minutes): spyne ingest {args.kind.value} "
        f"{args.contract_id} --start {args.start.isoformat()} --end {args.end.isoformat()}"
        + (f" --batch-size {args.batch_size}" if args.batch_size else "")
        + f" --dry-run-id {dry_run_id}"
    )


def _operate(args: RunArguments, dry_run: bool, dry_run_id: str | None, as_json: bool) -> None:
    from rich.progress import Progress

    from orchestration.ingestion.replay import Replays
    from orchestration.ingestion.runner import bronze_ingest

    with refusals():
        rt = runtime()
        me = actor(rt)
        replays = Replays(bronze_ingest(rt))
        if dry_run:
            info, estimate = replays.dry_run(me, args)
            if as_json:
                emit_json(info.to_dict())
            else:
                _show_estimate(info.record.dry_run_id, args, estimate)
            return
        import uuid

        run_id = f"cli-{uuid.uuid4().hex[:12]}"
        with Progress(console=rich_console(err_console), transient=True, disable=as_json) as bar:
            task = bar.add_task(f"{args.kind.value} {args.contract_id}", total=None)

            def progress(done: int, total: int, message: str) -> None:
                bar.update(task, completed=done, total=total, description=message)

            result = replays.run(me, args, dry_run_id, run_id, progress)
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(
        f"{args.kind.value} {args.contract_id}: {result.delivered} rows read, {result.accepted} "
        f"entered; new version(s) {', '.join(f'v{v}' for v in result.versions)} (not yet "
        "published: they gate and publish like any bronze build)"
    )


@app.command("replay")
def replay(
    contract: ContractArg,
    start: StartOpt,
    end: EndOpt,
    dry_run: DryRunOpt = False,
    dry_run_id: DryRunIdOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a time range again from the landing area; a dry run first, then an admin runs it."""
    _operate(_arguments("replay", contract, start, end, None), dry_run, dry_run_id, as_json)


@app.command("backfill")
def backfill(
    contract: ContractArg,
    start: StartOpt,
    end: EndOpt,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Rows per batch (one version each).")
    ] = None,
    dry_run: DryRunOpt = False,
    dry_run_id: DryRunIdOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read a time range from the source in batches; a dry run first, then an admin runs it."""
    _operate(_arguments("backfill", contract, start, end, batch_size), dry_run, dry_run_id, as_json)
