"""Replay and backfill as Dagster jobs, with typed run config: launched and watched from the UI.

The same service as `spyne ingest replay|backfill` (:mod:`orchestration.ingestion.replay`):
``dry_run: true`` estimates and records a dry run (its id is in the run log and the op's
output); a real run needs that id and an admin (a run launched by a person acts as them;
from the UI it acts as the code location's service principal). Progress goes to the run log.
Nothing heavy is imported when the code location loads.
"""

# No `from __future__ import annotations` here: Dagster reads the bodies' annotations.
from datetime import UTC, datetime
from typing import Any

from dagster import Config, OpExecutionContext, job, op
from pydantic import Field

from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.runs.retries import failures_classified
from orchestration.runs.tags import job_tags
from policies.errors import SpyneError, ValidationFailed


class ReplayConfig(Config):
    contract: str = Field(description="The contract id, e.g. erp_sale_order.")
    start: str = Field(description="Start of the range (event time, ISO 8601, UTC), inclusive.")
    end: str = Field(description="End of the range (event time, ISO 8601, UTC), exclusive.")
    dry_run: bool = Field(default=False, description="Estimate and preview only; writes nothing.")
    dry_run_id: str | None = Field(
        default=None, description="The id of this range's dry run (required for a real run)."
    )


class BackfillConfig(ReplayConfig):
    batch_size: int | None = Field(
        default=None, description="Rows per batch; each batch becomes one bronze version."
    )


def _when(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"{field} {text!r} is not an ISO 8601 time; write e.g. 2026-06-01T00:00:00",
            details={"field": field, "value": text},
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _operate(
    context: OpExecutionContext,
    spyne: SpyneResource,
    kind: str,
    config: ReplayConfig,
    batch_size: int | None,
) -> dict[str, Any]:
    from orchestration.ingestion.replay import Replays
    from orchestration.ingestion.runner import bronze_ingest
    from policies.dry_runs import RunArguments, RunKind

    try:
        with failures_classified():
            rt = spyne.runtime()
            me = spyne.actor(context)
            args = RunArguments(
                RunKind(kind),
                config.contract,
                _when(config.start, "start"),
                _when(config.end, "end"),
                batch_size,
            )
            replays = Replays(bronze_ingest(rt))
            if config.dry_run:
                info, estimate = replays.dry_run(me, args)
                context.log.info(
                    f"dry run {info.record.dry_run_id}: {estimate.delivered} rows in the range, "
                    f"{estimate.accepted} would enter bronze, {estimate.dropped} dropped by "
                    f"dedupe; run again with dry_run_id: {info.record.dry_run_id} (admin)"
                )
                return info.to_dict()

            def progress(done: int, total: int, message: str) -> None:
                context.log.info(f"[{done}/{total}] {message}")

            result = replays.run(me, args, config.dry_run_id, context.run_id, progress)
    except SpyneError as err:
        raise as_failure(err) from err
    context.log.info(
        f"{kind} {config.contract}: {result.delivered} rows read, {result.accepted} entered; "
        f"versions {result.versions}"
    )
    return result.to_dict()


@op(description="Replay a time range of a contract from the landing area (dry run first).")
def replay_range(
    context: OpExecutionContext, config: ReplayConfig, spyne: SpyneResource
) -> dict[str, Any]:
    return _operate(context, spyne, "replay", config, None)


@op(description="Backfill a time range of a contract from the source, in batches (dry run first).")
def backfill_range(
    context: OpExecutionContext, config: BackfillConfig, spyne: SpyneResource
) -> dict[str, Any]:
    return _operate(context, spyne, "backfill", config, config.batch_size)


@job(
    description="`spyne ingest replay`: load a time range again from landing, by the contract.",
    tags=job_tags(),
)
def ingest_replay() -> None:
    replay_range()


@job(
    description="`spyne ingest backfill`: read a time range from the source in batches.",
    tags=job_tags(),
)
def ingest_backfill() -> None:
    backfill_range()
