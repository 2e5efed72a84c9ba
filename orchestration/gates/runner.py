"""Run one gate: a GE suite against one shadow table version, evaluated inside the warehouse.

Every check is pushed down as SQL through GE's SQLAlchemy engine; no rows are pulled into
pandas. The verdict is blocking, so anything that prevents a trustworthy verdict (missing
warehouse or table, an expectation that raised, an empty suite) is a failed gate with a
message, never an exception the caller might swallow into "no result". A missing
warehouse or table is also marked (``GateResult.missing``): that is no verdict on the
data, and a caller that records verdicts must refuse instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, cast

import great_expectations as gx
import sqlalchemy as sa
from great_expectations.checkpoint import Checkpoint
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.datasource.fluent.sql_datasource import TableAsset
from sqlglot import exp

from orchestration.gates.data_docs import build_data_docs, docs_stores
from orchestration.gates.duckdb_datasource import DuckDBGateSource
from orchestration.gates.results import (
    BOUND_KEYS,
    CRITICAL,
    ExpectationOutcome,
    GateResult,
    Missing,
    as_int,
    failure_summary,
    first_line,
)
from orchestration.gates.suites import is_uniqueness_check
from orchestration.jsonable import json_safe
from policies.errors import SpyneError

RESULT_FORMAT = "SUMMARY"


class GateSource(Protocol):
    """Where a gate looks: a GE SQL datasource on one warehouse, and what GE cannot ask it.

    :class:`~orchestration.gates.duckdb_datasource.DuckDBGateSource` (the embedded warehouse)
    and :class:`~orchestration.gates.bigquery_datasource.BigQueryGateSource` (prod).
    """

    @property
    def name(self) -> str: ...

    @property
    def dialect(self) -> str: ...

    def missing(self) -> str | None:
        """Why the warehouse itself cannot be read, if it cannot (no verdict is possible)."""
        ...

    def datasource(self, context: AbstractDataContext, schema: str) -> SQLDatasource: ...

    def add_asset(self, datasource: SQLDatasource, schema: str, table: str) -> TableAsset: ...

    def connection(self, datasource: SQLDatasource) -> AbstractContextManager[sa.Connection]:
        """A connection for the gate's own queries; nothing stays open after the block."""
        ...

    def table_exists(self, connection: sa.Connection, schema: str, table: str) -> bool: ...

    def refused(self) -> SpyneError | None:
        """A refusal met while GE ran (a query over the byte cap), which GE itself swallows."""
        ...


def gate_source(warehouse: Path | GateSource) -> GateSource:
    """A path is a DuckDB warehouse file."""
    if isinstance(warehouse, Path):
        return DuckDBGateSource(warehouse)
    return warehouse


def run_gate(
    warehouse: Path | GateSource,
    schema: str,
    table: str,
    suite: ExpectationSuite,
    *,
    parameters: Mapping[str, Any] | None = None,
    data_docs_dir: Path | None = None,
) -> GateResult:
    """Validate ``schema.table`` in the warehouse (a DuckDB file, or a :class:`GateSource`).

    ``parameters`` are the values of the suite's ``{"$PARAMETER": name}`` references (a
    reference without a value fails the gate). With ``data_docs_dir`` the result is also
    kept there (``validations/``, with the suite in ``suites/``) and the Data Docs site
    rebuilt for it (``site/index.html``); without it nothing touches the disk. Nothing of
    the warehouse is held open once this returns. A refusal met on the way (a BigQuery query
    over the byte cap) fails the gate and is kept in ``GateResult.refusal``: it is no verdict.
    """
    started = time.perf_counter()
    source = gate_source(warehouse)

    def failed(
        message: str, missing: Missing | None = None, refused: SpyneError | None = None
    ) -> GateResult:
        return GateResult(
            success=False,
            evaluated=0,
            failed=0,
            results=(),
            duration_seconds=time.perf_counter() - started,
            schema=schema,
            table=table,
            suite_name=suite.name,
            message=message,
            missing=missing,
            refusal=refused,
        )

    unreadable = source.missing()
    if unreadable is not None:
        return failed(unreadable, "warehouse")
    if not suite.expectations:
        return failed(f"suite {suite.name!r} has no expectations; an empty gate proves nothing")
    try:
        outcomes, docs_index = _validate(
            source, schema, table, suite, dict(parameters or {}), data_docs_dir
        )
    except _TableMissing as missing:
        return failed(str(missing), "table")
    except _GateRefused as refusal:
        return failed(str(refusal))
    except Exception as exc:  # any GE or warehouse error is a failed gate, by design
        refused = source.refused()
        if refused is not None:
            return failed(refused.message, refused=refused)
        return failed(
            f"gate on {schema}.{table} could not run: {type(exc).__name__}: {first_line(exc)}"
        )
    refused = source.refused()
    if refused is not None:
        return failed(refused.message, refused=refused)
    failed_count = sum(1 for o in outcomes if not o.success)
    return GateResult(
        success=not any(o.blocking for o in outcomes),
        evaluated=len(outcomes),
        failed=failed_count,
        results=tuple(outcomes),
        duration_seconds=time.perf_counter() - started,
        schema=schema,
        table=table,
        suite_name=suite.name,
        message=None if failed_count == 0 else failure_summary(outcomes),
        data_docs_index=docs_index,
    )


class _GateRefused(Exception):
    """A precondition failed before GE ran; the message is the gate's message."""


class _TableMissing(_GateRefused):
    """The table to validate is not in the warehouse."""


def _validate(
    source: GateSource,
    schema: str,
    table: str,
    suite: ExpectationSuite,
    parameters: dict[str, Any],
    data_docs_dir: Path | None,
) -> tuple[list[ExpectationOutcome], str | None]:
    context = _context(data_docs_dir)
    try:
        datasource = source.datasource(context, schema)
        with source.connection(datasource) as connection:
            if not source.table_exists(connection, schema, table):
                raise _TableMissing(f"table {schema}.{table} does not exist in {source.name}")
            asset = source.add_asset(datasource, schema, table)
            batch_definition = asset.add_batch_definition_whole_table("whole_table")
            gx_suite = context.suites.add_or_update(_detached_copy(suite))
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"{schema}.{table}", data=batch_definition, suite=gx_suite
                )
            )
            checkpoint = context.checkpoints.add(
                Checkpoint(
                    name=f"gate {schema}.{table}",
                    validation_definitions=[definition],
                    result_format={"result_format": RESULT_FORMAT},
                )
            )
            run = checkpoint.run(expectation_parameters=parameters)
            if len(run.run_results) != 1:
                raise _GateRefused(
                    f"expected one validation result, GE returned {len(run.run_results)}"
                )
            ((result_id, suite_result),) = run.run_results.items()
            results = sorted(
                cast(ExpectationSuiteValidationResult, suite_result).results,
                key=_suite_order(gx_suite),
            )
            outcomes = [
                _with_duplicate_count(connection, source.dialect, schema, table, r, _outcome(r))
                for r in results
            ]
        docs_index = None
        if data_docs_dir is not None:
            # Rendered after the connection is closed: the warehouse is not locked for HTML.
            docs_index = build_data_docs(context, Path(data_docs_dir), result_id, gx_suite.name)
        return outcomes, docs_index
    finally:
        _release(context)


def _context(data_docs_dir: Path | None) -> AbstractDataContext:
    """An ephemeral context: nothing of GE's own config is written, so gates can run in parallel.

    With a docs dir, validation results and the suites they ran go to disk for the Data Docs
    site; otherwise every store is in memory.
    """
    stores: dict[str, Any] = {
        name: {"class_name": class_name, "store_backend": {"class_name": "InMemoryStoreBackend"}}
        for name, class_name in (
            ("expectations_store", "ExpectationsStore"),
            ("validation_results_store", "ValidationResultsStore"),
            ("checkpoint_store", "CheckpointStore"),
            ("validation_definition_store", "ValidationDefinitionStore"),
        )
    }
    if data_docs_dir is not None:
        stores.update(docs_stores(Path(data_docs_dir)))
    config = DataContextConfig(
        stores=stores,
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _release(context: AbstractDataContext) -> None:
    """Let go of the gate's context: GE keeps the newest one in a process-wide slot, and with it
    the datasource's engine and its DuckDB objects, which would then outlive the warehouse
    module in a long process (the demo) and be reported as leaked at exit."""
    from great_expectations.data_context.data_context.context_factory import project_manager

    project_manager.set_project(None)
    del context


def _detached_copy(suite: ExpectationSuite) -> ExpectationSuite:
    """A copy the context may bind and stamp ids on, leaving the caller's suite reusable."""
    document = cast("dict[str, Any]", suite.to_json_dict())
    document.pop("id", None)
    for expectation in document.get("expectations", []):
        expectation.pop("id", None)
    document["name"] = suite.name or f"suite-{uuid.uuid4().hex[:8]}"
    return ExpectationSuite(**document)


def _suite_order(suite: ExpectationSuite) -> Callable[[ExpectationValidationResult], int]:
    """Report results in the suite's order (GE puts errored ones first), for stable reading.

    Results carry the id the context gave each expectation of ``suite``.
    """
    positions = {e.id: i for i, e in enumerate(suite.expectations)}

    def position(result: ExpectationValidationResult) -> int:
        config = result.expectation_config
        return positions.get(config.id if config is not None else None, len(positions))

    return position


def _outcome(result: ExpectationValidationResult) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs: Mapping[str, Any] = (config.kwargs if config is not None else {}) or {}
    details: Mapping[str, Any] = result.result or {}
    column = kwargs.get("column")
    severity = getattr(config, "severity", None) if config is not None else None
    expected = {k: json_safe(kwargs[k]) for k in BOUND_KEYS if kwargs.get(k) is not None}
    return ExpectationOutcome(
        expectation_type=str(config.type if config is not None else "unknown"),
        column=str(column) if column is not None else None,
        success=bool(result.success),
        observed_value=json_safe(details.get("observed_value")),
        unexpected_count=as_int(details.get("unexpected_count")),
        severity=str(getattr(severity, "value", severity) or CRITICAL),
        message=_exception_message(result.exception_info),
        expected=expected or None,
    )


def _with_duplicate_count(
    connection: sa.Connection,
    dialect: str,
    schema: str,
    table: str,
    result: ExpectationValidationResult,
    outcome: ExpectationOutcome,
) -> ExpectationOutcome:
    """Give a failed count(DISTINCT) uniqueness check the duplicate count GE cannot report.

    Counted like ``expect_column_values_to_be_unique``: every non-null row whose value
    occurs more than once. Only failures pay for this query; a passing check has 0.
    """
    config = result.expectation_config
    kwargs = (config.kwargs if config is not None else None) or {}
    if outcome.column is None or not is_uniqueness_check(outcome.expectation_type, kwargs):
        return outcome
    if outcome.success:
        return replace(outcome, unexpected_count=0)
    if outcome.message is not None:
        return outcome
    try:
        duplicates = connection.exec_driver_sql(
            duplicate_rows_sql(schema, table, outcome.column, dialect)
        ).scalar()
    except sa.exc.DBAPIError:
        connection.rollback()
        return outcome
    return replace(outcome, unexpected_count=as_int(duplicates))


def duplicate_rows_sql(schema: str, table: str, column: str, dialect: str = "duckdb") -> str:
    """Rows whose non-null ``column`` value repeats: sum of group sizes above one."""
    col = exp.column(column, quoted=True)
    groups = (
        exp.select(exp.alias_(exp.Count(this=exp.Star()), "n"))
        .from_(exp.table_(table, db=schema, quoted=True))
        .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
        .group_by(col.copy())
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    total = exp.func("COALESCE", exp.func("SUM", exp.column("n")), exp.Literal.number(0))
    return exp.select(total).from_(groups.subquery("duplicate_groups")).sql(dialect=dialect)


def _exception_message(info: Any) -> str | None:
    """GE nests exception info per metric; the first raised message is enough to act on."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return first_line(info.get("exception_message") or "expectation raised an exception")
    for value in info.values():
        message = _exception_message(value)
        if message:
            return message
    return None
