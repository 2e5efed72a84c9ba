"""Run one gate: a GE suite against one shadow table version, evaluated inside DuckDB.

Every check is pushed down as SQL through GE's SQLAlchemy engine; no rows are pulled into
pandas. The verdict is blocking, so anything that prevents a trustworthy verdict (missing
warehouse or table, an expectation that raised, an empty suite) is a failed gate with a
message, never an exception the caller might swallow into "no result".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

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
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
from sqlglot import exp

from orchestration.gates.duckdb_datasource import DuckDBExecutionEngine, duckdb_url
from orchestration.gates.suites import is_uniqueness_check
from orchestration.jsonable import json_safe

logger = logging.getLogger(__name__)

DATA_DOCS_SITE = "spyne_gates"
RESULT_FORMAT = "SUMMARY"
_CRITICAL = "critical"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, reduced to what a person needs to act on it.

    ``unexpected_count`` counts offending rows (nulls, out-of-set values, rows whose value
    is duplicated); None when the expectation is about the table, not rows.
    """

    expectation_type: str
    column: str | None
    success: bool
    observed_value: Any
    unexpected_count: int | None
    severity: str = _CRITICAL
    message: str | None = None

    @property
    def blocking(self) -> bool:
        """A failed critical check blocks; so does any check that could not be evaluated."""
        return not self.success and (self.severity == _CRITICAL or self.message is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation_type": self.expectation_type,
            "column": self.column,
            "success": self.success,
            "observed_value": json_safe(self.observed_value),
            "unexpected_count": self.unexpected_count,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate run on ``schema.table``; ``success`` decides publication."""

    success: bool
    evaluated: int
    failed: int
    results: tuple[ExpectationOutcome, ...]
    duration_seconds: float
    schema: str = ""
    table: str = ""
    suite_name: str = ""
    message: str | None = None
    data_docs_index: str | None = None
    failures: tuple[ExpectationOutcome, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(r for r in self.results if not r.success))

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": self.failed,
            "results": [r.to_dict() for r in self.results],
            "duration_seconds": round(self.duration_seconds, 6),
            "schema": self.schema,
            "table": self.table,
            "suite_name": self.suite_name,
            "message": self.message,
            "data_docs_index": self.data_docs_index,
        }


def run_gate(
    warehouse_path: Path,
    schema: str,
    table: str,
    suite: ExpectationSuite,
    *,
    data_docs_dir: Path | None = None,
) -> GateResult:
    """Validate ``schema.table`` in the DuckDB file against ``suite``.

    With ``data_docs_dir`` the result is also kept there (``validations/``) and the Data
    Docs site rebuilt for it (``site/index.html``); without it nothing touches the disk.
    The warehouse file is not held open once this returns.
    """
    started = time.perf_counter()

    def failed(message: str) -> GateResult:
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
        )

    warehouse_path = Path(warehouse_path)
    if not warehouse_path.is_file():
        # duckdb would silently create an empty file here; a gate must not.
        return failed(f"warehouse file {warehouse_path} does not exist")
    if not suite.expectations:
        return failed(f"suite {suite.name!r} has no expectations; an empty gate proves nothing")
    try:
        outcomes, docs_index = _validate(warehouse_path, schema, table, suite, data_docs_dir)
    except _GateRefused as refusal:
        return failed(str(refusal))
    except Exception as exc:  # any GE or DuckDB error is a failed gate, by design
        return failed(
            f"gate on {schema}.{table} could not run: {type(exc).__name__}: {_first_line(exc)}"
        )
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
        message=None if failed_count == 0 else _failure_summary(outcomes),
        data_docs_index=docs_index,
    )


class _GateRefused(Exception):
    """A precondition failed before GE ran; the message is the gate's message."""


def _validate(
    warehouse_path: Path,
    schema: str,
    table: str,
    suite: ExpectationSuite,
    data_docs_dir: Path | None,
) -> tuple[list[ExpectationOutcome], str | None]:
    context = _context(data_docs_dir)
    datasource = context.data_sources.add_duckdb_sql(  # type: ignore[attr-defined]
        name="warehouse", connection_string=duckdb_url(warehouse_path), default_schema=schema
    )
    engine = cast(DuckDBExecutionEngine, datasource.get_execution_engine())
    try:
        with engine.single_connection() as connection:
            if not _table_exists(connection, schema, table):
                raise _GateRefused(
                    f"table {schema}.{table} does not exist in {warehouse_path.name}"
                )
            asset = datasource.add_table_asset(name=f"{schema}.{table}", table_name=table)
            batch_definition = asset.add_batch_definition_whole_table("whole_table")
            gx_suite = context.suites.add(_detached_copy(suite))
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
            run = checkpoint.run()
            if len(run.run_results) != 1:
                raise _GateRefused(
                    f"expected one validation result, GE returned {len(run.run_results)}"
                )
            ((result_id, suite_result),) = run.run_results.items()
            results = sorted(
                cast(ExpectationSuiteValidationResult, suite_result).results,
                key=_suite_order(suite),
            )
            outcomes = [
                _with_duplicate_count(connection, schema, table, r, _outcome(r)) for r in results
            ]
    finally:
        engine.engine.dispose()
    docs_index = None
    if data_docs_dir is not None:
        # Rendered after the connection is closed: the warehouse is not locked for HTML.
        docs_index = _build_data_docs(context, Path(data_docs_dir), result_id, gx_suite.name)
    return outcomes, docs_index


def _build_data_docs(
    context: AbstractDataContext, data_docs_dir: Path, result_id: Any, suite_name: str
) -> str | None:
    """Render this run's page and the index; a rendering failure never changes the verdict."""
    try:
        context.build_data_docs(
            site_names=[DATA_DOCS_SITE],
            resource_identifiers=[result_id, ExpectationSuiteIdentifier(name=suite_name)],
        )
    except Exception:
        logger.exception("building Data Docs in %s failed; the gate verdict stands", data_docs_dir)
        return None
    index = data_docs_dir / "site" / "index.html"
    return str(index) if index.is_file() else None


def _context(data_docs_dir: Path | None) -> AbstractDataContext:
    """An ephemeral context: nothing of GE's own config is written, so gates can run in parallel.

    With a docs dir, only validation results (one file per run) and the rendered site go to
    disk; expectations stay in memory because the repo's JSON files are their source.
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
    sites: dict[str, Any] = {}
    if data_docs_dir is not None:
        root = Path(data_docs_dir).resolve()
        stores["validation_results_store"]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / "validations"),
        }
        sites[DATA_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / "site"),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        stores=stores,
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _detached_copy(suite: ExpectationSuite) -> ExpectationSuite:
    """A copy the context may bind and stamp ids on, leaving the caller's suite reusable."""
    document = cast("dict[str, Any]", suite.to_json_dict())
    document.pop("id", None)
    for expectation in document.get("expectations", []):
        expectation.pop("id", None)
    document["name"] = suite.name or f"suite-{uuid.uuid4().hex[:8]}"
    return ExpectationSuite(**document)


def _suite_order(suite: ExpectationSuite) -> Callable[[ExpectationValidationResult], int]:
    """Report results in the suite's order (GE puts errored ones first), for stable reading."""

    def key(type_: str, kwargs: Mapping[str, Any]) -> str:
        own = {k: v for k, v in kwargs.items() if k != "batch_id"}  # GE adds the batch to results
        return json.dumps({"type": type_, "kwargs": own}, sort_keys=True, default=str)

    positions: dict[str, int] = {}
    for i, e in enumerate(suite.expectations):
        positions.setdefault(key(e.configuration.type, e.configuration.kwargs), i)

    def position(result: ExpectationValidationResult) -> int:
        config = result.expectation_config
        if config is None:
            return len(positions)
        return positions.get(key(config.type, config.kwargs), len(positions))

    return position


def _table_exists(connection: sa.Connection, schema: str, table: str) -> bool:
    count = connection.exec_driver_sql(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        (schema, table),
    ).scalar()
    return bool(count)


def _outcome(result: ExpectationValidationResult) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs: Mapping[str, Any] = (config.kwargs if config is not None else {}) or {}
    details: Mapping[str, Any] = result.result or {}
    column = kwargs.get("column")
    severity = getattr(config, "severity", None) if config is not None else None
    return ExpectationOutcome(
        expectation_type=str(config.type if config is not None else "unknown"),
        column=str(column) if column is not None else None,
        success=bool(result.success),
        observed_value=json_safe(details.get("observed_value")),
        unexpected_count=_as_int(details.get("unexpected_count")),
        severity=str(getattr(severity, "value", severity) or _CRITICAL),
        message=_exception_message(result.exception_info),
    )


def _with_duplicate_count(
    connection: sa.Connection,
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
        return _replace(outcome, unexpected_count=0)
    if outcome.message is not None:
        return outcome
    try:
        duplicates = connection.exec_driver_sql(
            duplicate_rows_sql(schema, table, outcome.column)
        ).scalar()
    except sa.exc.DBAPIError:
        connection.rollback()
        return outcome
    return _replace(outcome, unexpected_count=_as_int(duplicates))


def duplicate_rows_sql(schema: str, table: str, column: str) -> str:
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
    return exp.select(total).from_(groups.subquery("duplicate_groups")).sql(dialect="duckdb")


def _replace(outcome: ExpectationOutcome, **changes: Any) -> ExpectationOutcome:
    values = {**outcome.__dict__, **changes}
    return ExpectationOutcome(**values)


def _exception_message(info: Any) -> str | None:
    """GE nests exception info per metric; the first raised message is enough to act on."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return _first_line(info.get("exception_message") or "expectation raised an exception")
    for value in info.values():
        message = _exception_message(value)
        if message:
            return message
    return None


def _failure_summary(outcomes: Sequence[ExpectationOutcome]) -> str:
    parts = []
    for o in outcomes:
        if o.success:
            continue
        target = f"{o.column}: " if o.column else ""
        if o.message:
            detail = o.message
        elif o.unexpected_count:
            detail = f"{o.unexpected_count} unexpected rows"
        else:
            detail = f"observed {json_safe(o.observed_value)!r}"
        blocking = "" if o.blocking else f" ({o.severity}, not blocking)"
        parts.append(f"{target}{o.expectation_type} failed, {detail}{blocking}")
    return "; ".join(parts)


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else text


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
