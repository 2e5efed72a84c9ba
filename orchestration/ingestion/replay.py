"""Replay and backfill of a time range, each behind a mandatory dry run.

- **replay** loads the range again from the landing area (every landed change once): what bronze
  already holds is dropped by the contract's semantics, what it lost comes back.
- **backfill** reads the range from the source itself (rows an incremental cursor never saw,
  e.g. older than its first load) in batches of ``batch_size`` rows, event time ascending.

The dry run applies the same semantics to the same rows and writes nothing: rows delivered, rows
that would enter, duplicates dedupe drops, and the first rows that would enter; it returns an id
(:mod:`policies.dry_runs`). The real run claims that id (admin, INGESTION_READY, same arguments,
same person, not expired, once), then writes one new bronze version per batch, each registered
(audited) like any build; the version gate and publish as every bronze version. Refused, it
writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from orchestration.catalog.dry_runs import DryRunInfo
from orchestration.extraction.landing import landed_changes
from orchestration.identity import Actor
from orchestration.ingestion import ledger
from orchestration.ingestion.bronze import (
    BronzeIngest,
    contract_by_id,
    extract_spec,
    version_table,
)
from orchestration.ingestion.dry_run_sql import dry_run_queries
from orchestration.ingestion.semantics_sql import Semantics
from orchestration.jsonable import json_safe
from orchestration.sources import read_source_rows
from orchestration.warehouse import acting_as
from policies.contracts import Contract
from policies.dry_runs import RunArguments, RunKind, decide_dry_run, raise_unless_allowed
from policies.errors import NotFound
from policies.naming import Layer, TableRef

PREVIEW_ROWS = 10
Progress = Callable[[int, int, str], None]  # (done, total, message)

RANGE_NAME = "spyne_range_rows"  # the rows of a range, filtered in memory


def _quiet(done: int, total: int, message: str) -> None:
    pass


@dataclass(frozen=True)
class Estimate:
    delivered: int
    accepted: int
    dropped: int  # duplicates and older versions the contract's semantics drop
    preview_columns: tuple[str, ...]
    preview: tuple[tuple[Any, ...], ...]
    base_version: int | None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "rows_delivered": self.delivered,
                "rows_estimated": self.accepted,
                "duplicates_dropped": self.dropped,
                "base_version": self.base_version,
                "preview_columns": list(self.preview_columns),
                "preview": [list(r) for r in self.preview],
            }
        )


@dataclass(frozen=True)
class RunResult:
    dry_run_id: str
    versions: tuple[int, ...]  # one per batch, the last one holds the whole range
    delivered: int
    accepted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run_id": self.dry_run_id,
            "versions": list(self.versions),
            "rows_delivered": self.delivered,
            "rows_accepted": self.accepted,
        }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive(value: datetime) -> datetime:
    return _utc(value).replace(tzinfo=None)


class Replays:
    def __init__(self, ingest: BronzeIngest) -> None:
        self._ingest = ingest
        self._catalog = ingest.catalog
        self._warehouse = ingest.warehouse
        self._landing = ingest.landing

    # -- the rows of a range -----------------------------------------------------------------
    def _rows(self, args: RunArguments, contract: Contract) -> pa.Table:
        """The range's rows: from landing (replay) or the source (backfill), event time order."""
        spec = extract_spec(contract)
        t = exp.column(spec.cursor_column, quoted=True)
        in_range = exp.and_(t >= _literal(args.start), t.copy() < _literal(args.end))
        if args.kind is RunKind.REPLAY:
            with self._landing.connect() as con:
                if not ledger.landed(con, spec.table):
                    raise NotFound(
                        f"nothing of contract {contract.id} was landed yet, so there is nothing "
                        f"to replay; load it first (`spyne ingest run {contract.id}`) or "
                        "backfill the range from the source",
                        details={"contract": contract.id, "table": spec.table},
                    )
                rows = landed_changes(con, spec.table, spec)
        else:  # only the range is read from the source
            rows = read_source_rows(self._ingest.source, contract.source_table, in_range)
        con = duckdb.connect()
        try:
            con.register(RANGE_NAME, rows)
            query = (
                exp.select(exp.Star())
                .from_(exp.table_(RANGE_NAME, quoted=True))
                .where(in_range.copy())
                .order_by(t.copy())
            )
            return con.sql(query.sql("duckdb")).to_arrow_table()
        finally:
            con.close()

    # -- dry run -----------------------------------------------------------------------------
    def dry_run(self, actor: Actor, args: RunArguments) -> tuple[DryRunInfo, Estimate]:
        """Estimate the run and record it (audited); writes nothing to the warehouse."""
        mode = self._catalog.current_mode().mode
        decision = decide_dry_run(args, actor.role, mode)
        if not decision.allowed:
            self._catalog.audit(
                actor.name,
                "dry_run",
                f"contract:{args.contract_id}",
                "refused",
                {"reasons": [r.message for r in decision.reasons]},
                actor.launched_by,
            )
        raise_unless_allowed(decision)
        contract = contract_by_id(self._catalog, args.contract_id)
        estimate = self.estimate(actor, args, contract)
        info = self._catalog.dry_runs.record(
            args, actor.name, estimate.to_dict(), actor.launched_by
        )
        return info, estimate

    def estimate(self, actor: Actor, args: RunArguments, contract: Contract) -> Estimate:
        ref = TableRef(Layer.BRONZE, contract.table)
        s = Semantics.of(contract)
        rows = self._rows(args, contract)
        with self._warehouse.exclusive(), acting_as(actor.name):
            base = self._ingest.base(ref)
            previous = None if base is None else version_table(ref, base.version)
            with self._warehouse.staged_rows(ref, rows) as batch:
                queries = dry_run_queries(
                    s,
                    batch,
                    previous,
                    datetime.now(UTC),
                    _naive(args.start),
                    _naive(args.end),
                    PREVIEW_ROWS,
                )
                counts = self._warehouse.select_arrow(queries.counts, table=ref).to_pylist()
                ((delivered, accepted, dropped),) = [tuple(r.values()) for r in counts]
                preview = self._warehouse.select_arrow(queries.preview, table=ref)
                columns = tuple(preview.column_names)
                shown = tuple(tuple(r.values()) for r in preview.to_pylist())
        return Estimate(
            int(delivered),
            int(accepted),
            int(dropped),
            columns,
            shown,
            None if base is None else base.version,
        )

    # -- the real run ------------------------------------------------------------------------
    def run(
        self,
        actor: Actor,
        args: RunArguments,
        dry_run_id: str | None,
        run_id: str,
        progress: Progress = _quiet,
    ) -> RunResult:
        """Claim the dry run (refused: typed, audited, nothing written), then load the range."""
        mode = self._catalog.current_mode().mode
        self._catalog.dry_runs.claim(
            dry_run_id,
            args,
            actor.name,
            actor.role,
            mode,
            run_id,
            actor.launched_by,
        )
        contract = contract_by_id(self._catalog, args.contract_id)
        ref = TableRef(Layer.BRONZE, contract.table)
        self._ingest.warn(actor, ref, contract)
        rows = self._rows(args, contract)
        chunks = list(_chunks(rows, args.batch_size))
        versions: list[int] = []
        accepted_total = 0
        progress(0, len(chunks), f"{args.kind.value} {contract.id}: {rows.num_rows} rows")
        for i, chunk in enumerate(chunks, start=1):
            with self._warehouse.exclusive(), acting_as(actor.name):
                base = self._ingest.base(ref)
                through = None if base is None else base.through_batch
                info, _, _, accepted = self._ingest.write(
                    actor, ref, contract, chunk, run_id, base, through, 0
                )
            versions.append(info.version)
            accepted_total += accepted
            progress(
                i,
                len(chunks),
                f"batch {i}/{len(chunks)}: {0 if chunk is None else chunk.num_rows} rows, {accepted} entered "
                f"{ref} v{info.version}",
            )
        self._catalog.audit(
            actor.name,
            args.kind.value,
            ref.canonical,
            "recorded",
            {
                "dry_run_id": dry_run_id,
                "run_id": run_id,
                **args.canonical(),
                "versions": versions,
                "rows_delivered": rows.num_rows,
                "rows_accepted": accepted_total,
            },
            actor.launched_by,
        )
        return RunResult(str(dry_run_id), tuple(versions), rows.num_rows, accepted_total)


def _literal(value: datetime) -> exp.Expression:
    text = _naive(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    return exp.cast(exp.Literal.string(text), "TIMESTAMP")


def _chunks(rows: pa.Table, size: int | None) -> Iterator[pa.Table | None]:
    """The range in batches of ``size`` rows (one batch without a size; None: nothing to load)."""
    if rows.num_rows == 0:
        yield None
        return
    step = size or rows.num_rows
    for offset in range(0, rows.num_rows, step):
        yield rows.slice(offset, step)
