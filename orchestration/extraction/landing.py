"""Landing: one dlt pipeline per source table, loading raw batches into ``landing.<table>``.

Where the cursor lives, and why nothing is lost or counted twice:

- dlt commits a table's new cursor value together with the load package it extracted; the
  package stays in the pipeline's working directory (``$SPYNE_HOME/dlt``) until every job of
  it is in the warehouse, and the next run loads a pending package before extracting again.
  A kill during extraction leaves no package and the old cursor; a kill during the load
  leaves the package, which the next run finishes. The state also travels to the warehouse
  (``landing._dlt_pipeline_state``), so a lost working directory is restored from there.
- A job whose ``INSERT`` committed but which was killed before dlt marked it done is loaded
  again by the next run. Every landed row therefore carries its batch (``_dlt_load_id``) and
  its ordinal in the batch (``_spyne_row``), and :func:`landed_rows` reads each
  ``(batch, ordinal)`` once, and only batches dlt recorded as complete (``_dlt_loads``): a
  retried job cannot double a row, and rows the source really delivered twice stay twice.
- A terminal load failure drops the package and the local state, so the next run restores
  the cursor from the warehouse, i.e. from before the failed batch.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from sqlglot import exp

from orchestration.extraction.resources import ExtractSpec, source_resource
from orchestration.sources import SourceLocation

LANDING_DATASET = "landing"
ROW_COLUMN = "_spyne_row"
LOAD_COLUMN = "_dlt_load_id"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandingReport:
    table: str
    load_ids: tuple[str, ...]  # batches landed by this run (a finished pending one first)
    rows: int  # rows extracted by this run
    cursor: datetime | None  # the newest event time extracted so far
    finished_pending: bool  # a batch left by an interrupted run was loaded first


def _numbered(resource: Any) -> Any:
    """Number the rows of one extraction, so a row's identity in landing is (batch, ordinal)."""
    numbered = [0]

    def number(table: pa.Table) -> pa.Table:
        start = numbered[0]
        numbered[0] += table.num_rows
        ordinals = pa.array(range(start, start + table.num_rows), pa.int64())
        return table.append_column(ROW_COLUMN, ordinals)

    resource.add_map(number)
    resource.apply_hints(columns={ROW_COLUMN: {"data_type": "bigint", "nullable": False}})
    return resource


def pipeline(spec: ExtractSpec, warehouse_path: Path, pipelines_dir: Path) -> dlt.Pipeline:
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    return dlt.pipeline(
        spec.pipeline_name,
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.duckdb(str(warehouse_path)),
        dataset_name=LANDING_DATASET,
    )


def cursor_value(p: dlt.Pipeline, spec: ExtractSpec) -> datetime | None:
    """The table's cursor in the pipeline's state (None before the first extraction)."""
    for source in p.state.get("sources", {}).values():
        found = source.get("resources", {}).get(spec.table, {}).get("incremental", {})
        if spec.cursor_column in found:
            value = found[spec.cursor_column].get("last_value")
            return value if isinstance(value, datetime) else None
    return None


def land(
    source: SourceLocation, spec: ExtractSpec, warehouse_path: Path, pipelines_dir: Path
) -> LandingReport:
    """Extract the table's rows from its cursor (minus the lag) and land them as one batch.

    One landing of a table at a time, across processes: a second one waits for the first.
    """
    with _exclusive(pipelines_dir, spec):
        return _land(source, spec, warehouse_path, pipelines_dir)


@contextmanager
def _exclusive(pipelines_dir: Path, spec: ExtractSpec) -> Iterator[None]:
    """An flock on ``<pipelines_dir>/<pipeline>.lock``, released by the kernel if we die."""
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(pipelines_dir / f"{spec.pipeline_name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _land(
    source: SourceLocation, spec: ExtractSpec, warehouse_path: Path, pipelines_dir: Path
) -> LandingReport:
    p = pipeline(spec, warehouse_path, pipelines_dir)
    load_ids: list[str] = []
    try:
        # A batch an interrupted run left is loaded first (a run costs dlt's start-up: skip it
        # when there is none).
        pending = p.run() if p.has_pending_data else None
        finished = pending is not None
        if pending is not None:
            load_ids.extend(pending.loads_ids)
        info = p.run(_numbered(source_resource(source, spec)))
    except Exception:
        if not p.has_pending_data:  # a terminal failure: take the cursor back from the warehouse
            _log.warning(
                "landing %s failed for good; its cursor is restored from the warehouse", spec.table
            )
            p.drop()
        raise
    load_ids.extend(info.loads_ids if info is not None else [])
    normalized = p.last_trace.last_normalize_info if p.last_trace else None
    rows = normalized.row_counts.get(spec.table, 0) if normalized is not None else 0
    return LandingReport(spec.table, tuple(load_ids), rows, cursor_value(p, spec), finished)


def _complete_batches() -> exp.Select:
    return (
        exp.select("load_id")
        .from_(exp.table_("_dlt_loads", db=LANDING_DATASET))
        .where(exp.column("status").eq(exp.Literal.number(0)))
    )


def _batches(load_ids: tuple[str, ...] | None) -> exp.Expr:
    complete: exp.Expr = exp.column(LOAD_COLUMN).isin(query=_complete_batches())
    if load_ids is None:
        return complete
    chosen = exp.column(LOAD_COLUMN).isin(*[exp.Literal.string(i) for i in load_ids])
    return exp.and_(complete, chosen)


def _once(where: exp.Expr, table: str) -> exp.Select:
    """Landed rows matching ``where``, each (batch, ordinal) once."""
    identity = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column(LOAD_COLUMN), exp.column(ROW_COLUMN)],
    )
    return (
        exp.select("*")
        .from_(exp.table_(table, db=LANDING_DATASET))
        .where(where)
        .qualify(identity.eq(exp.Literal.number(1)))
    )


def landed_rows(
    warehouse: duckdb.DuckDBPyConnection, table: str, load_ids: tuple[str, ...] | None = None
) -> pa.Table:
    """Rows of complete batches, each (batch, ordinal) once; optionally of some batches only."""
    query = _once(_batches(load_ids), table).order_by(LOAD_COLUMN, ROW_COLUMN)
    return warehouse.sql(query.sql("duckdb")).to_arrow_table()


def new_rows(
    warehouse: duckdb.DuckDBPyConnection, table: str, spec: ExtractSpec, load_ids: tuple[str, ...]
) -> pa.Table:
    """Rows of these batches that no earlier batch landed: what the source added or changed.

    The lag re-reads a window of rows already landed; an exact copy of an earlier landed row
    (within the window) is not new. Multiset difference (``EXCEPT ALL``): a row the source
    really delivered twice in new data stays twice, for the contract's dedupe to judge.
    """
    landed = landed_rows(warehouse, table, load_ids)
    columns = [c for c in landed.column_names if c not in (LOAD_COLUMN, ROW_COLUMN)]
    if not load_ids or landed.num_rows == 0:
        return landed.select(columns)
    oldest = min(landed[spec.cursor_column].to_pylist())
    earliest = min(float(i) for i in load_ids)
    earlier = exp.and_(
        _batches(None),
        exp.cast(exp.column(LOAD_COLUMN), "double") < exp.Literal.number(earliest),
        exp.column(spec.cursor_column)
        >= exp.cast(exp.Literal.string(oldest.isoformat(sep=" ")), "timestamp"),
    )

    def project(select: exp.Select) -> exp.Select:
        return exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(
            select.subquery("landed")
        )

    query = exp.Except(
        this=project(_once(_batches(load_ids), table)),
        expression=project(_once(earlier, table)),
        distinct=False,
    )
    return warehouse.sql(query.sql("duckdb")).to_arrow_table()


def complete_batches(warehouse: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...]:
    """The table's complete batches, oldest first."""
    query = (
        exp.select(exp.column(LOAD_COLUMN))
        .distinct()
        .from_(exp.table_(table, db=LANDING_DATASET))
        .where(_batches(None))
    )
    ids = [str(i) for (i,) in warehouse.sql(query.sql("duckdb")).fetchall()]
    return tuple(sorted(ids, key=float))


def landed_changes(warehouse: duckdb.DuckDBPyConnection, table: str, spec: ExtractSpec) -> pa.Table:
    """Everything landed, each change once: every batch's new rows, oldest batch first."""
    parts = [new_rows(warehouse, table, spec, (i,)) for i in complete_batches(warehouse, table)]
    if not parts:
        return landed_rows(warehouse, table).drop_columns([LOAD_COLUMN, ROW_COLUMN])
    return pa.concat_tables(parts)
