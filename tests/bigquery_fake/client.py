"""A fake ``google.cloud.bigquery.Client`` that records every request and keeps a project's state.

It answers the statements Spyne sends (parsed back with sqlglot's BigQuery dialect, as BigQuery
would receive them): dataset, table, clone and view DDL, drops, information-schema reads, row
counts and the content hash; load jobs read the Parquet they are given. Dry runs answer with
the bytes a scan would cost (``fixtures/bigquery_fake.yaml``, or ``scan_bytes`` pinned by a
test), and a job whose scan exceeds its ``maximum_bytes_billed`` fails the way BigQuery fails it.
Errors are the real ``google.api_core`` exceptions. Nothing here talks to a network.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from google.api_core import exceptions as google_errors
from google.cloud import bigquery
from sqlglot import exp

from tests.bigquery_fake.sql import FakeRows, run_select, tables_read
from tests.bigquery_fake.state import (
    ANSWERS,
    FakeTable,
    Project,
    bigquery_type,
    fingerprint,
    not_found,
    select_rows,
)

# How BigQuery's client types the Arrow of a result (RowIterator.to_arrow).
ARROW_OF: dict[str, pa.DataType] = {
    "INT64": pa.int64(),
    "FLOAT64": pa.float64(),
    "NUMERIC": pa.decimal128(38, 9),
    "STRING": pa.string(),
    "BOOL": pa.bool_(),
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Request:
    method: str  # query | load | get_table
    sql: str | None = None
    dry_run: bool = False
    maximum_bytes_billed: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    destination: str | None = None
    write_disposition: str | None = None
    parameters: tuple[Any, ...] = ()  # a query's @name parameters


def _answered_by_duckdb(statement: exp.Query) -> bool:
    """Profiles, join validation and ingestion's semantics (CTEs, joins, named expressions,
    scalar subqueries, unions): more than the fake evaluates itself."""
    if not isinstance(statement, exp.Select):
        return True
    if not statement.args.get("from_"):
        return True
    source = statement.args["from_"].this
    if isinstance(source, exp.Table) and "INFORMATION_SCHEMA." in source.name.upper():
        return False
    return bool(
        statement.args.get("with_") or statement.args.get("joins") or statement.find(exp.Alias)
    ) or not isinstance(source, exp.Table)


class FakeResult(list[bigquery.Row]):
    """The rows of a finished job, which BigQuery's RowIterator also hands over as Arrow."""

    def __init__(
        self, rows: list[bigquery.Row], types: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(rows)
        self.types = types or []

    def to_arrow(self, create_bqstorage_client: bool = True) -> pa.Table:
        columns = [
            pa.array([r[i] for r in self], ARROW_OF.get(t, pa.string()))
            for i, (_, t) in enumerate(self.types)
        ]
        return pa.Table.from_arrays(columns, names=[n for n, _ in self.types])


@dataclass
class FakeJob:
    total_bytes_processed: int | None = None
    rows: list[bigquery.Row] = field(default_factory=list)
    types: list[tuple[str, str]] | None = None  # (column, BigQuery type), where the answer knows

    def result(self) -> FakeResult:
        return FakeResult(self.rows, self.types)


class FakeBigQueryClient:
    def __init__(self, project: str = "spyne-test") -> None:
        self.project = project
        self.state = Project(project)
        self.requests: list[Request] = []
        self.scan_bytes: dict[tuple[str, str], int] = {}  # pinned cost of scanning a table
        self.dry_run_answer: int | None = None  # a dry run that misjudges the scan, when set
        self._lock = threading.RLock()

    # -- what tests read -------------------------------------------------------------------
    def queries(self, *, dry_run: bool | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == "query" and (dry_run is None or r.dry_run == dry_run)
        ]

    def describe(
        self, dataset: str, table: str, description: str | None, columns: dict[str, str]
    ) -> None:
        """Set descriptions the way dbt's persist_docs does (table metadata, not a query)."""
        with self._lock:
            found = self.state.tables[(dataset, table)]
            found.description = description
            found.column_descriptions = dict(columns)

    # -- the client API Spyne uses ----------------------------------------------------------
    def _admit(
        self, query: str, config: bigquery.QueryJobConfig, location: str | None
    ) -> tuple[exp.Expr, int, bool]:
        """Record a query request, cost it, and refuse it over its byte cap as BigQuery does.

        Returns the parsed statement, its cost, and whether it was only a dry run. Called with
        the lock held."""
        cap = config.maximum_bytes_billed
        self.requests.append(
            Request(
                "query",
                query,
                bool(config.dry_run),
                int(cap) if cap is not None else None,
                dict(config.labels or {}),
                location,
                parameters=tuple(config.query_parameters or ()),
            )
        )
        statement = sqlglot.parse_one(query, read="bigquery")
        cost = self._cost(statement)
        if not config.dry_run and cap is not None and cost > int(cap):
            raise google_errors.BadRequest(
                f"Query exceeded limit for bytes billed: {cap}. {cost} or higher required.",
                errors=[{"reason": "bytesBilledLimitExceeded"}],
            )
        return statement, cost, bool(config.dry_run)

    def _dry_run_answer(self, cost: int) -> int:
        return cost if self.dry_run_answer is None else self.dry_run_answer

    def query(
        self, query: str, job_config: bigquery.QueryJobConfig | None = None, **kwargs: Any
    ) -> FakeJob:
        config = job_config or bigquery.QueryJobConfig()
        with self._lock:
            statement, cost, dry = self._admit(query, config, kwargs.get("location"))
            if dry:
                return FakeJob(total_bytes_processed=self._dry_run_answer(cost))
            if isinstance(statement, exp.Query) and _answered_by_duckdb(statement):
                fields, found = run_select(self.state, statement, ())
                types = [(f.name, str(f.field_type)) for f in fields]
                return FakeJob(cost, list(found), types)
            names, rows = self._execute(statement)
            index = {n: i for i, n in enumerate(names)}
            return FakeJob(cost, [bigquery.Row(row, index) for row in rows])

    def query_and_wait(
        self, query: str, *, job_config: bigquery.QueryJobConfig | None = None, **kwargs: Any
    ) -> FakeRows:
        """What BigQuery's DB-API (and so SQLAlchemy, and GE) calls: any read-only query.

        Answered by DuckDB (:mod:`tests.bigquery_fake.sql`); dry runs and the byte cap as in
        :meth:`query`.
        """
        config = job_config or bigquery.QueryJobConfig()
        with self._lock:
            statement, cost, dry = self._admit(query, config, kwargs.get("location"))
            if dry:
                return FakeRows([], total_bytes_processed=self._dry_run_answer(cost))
            schema, rows = run_select(self.state, statement, config.query_parameters or ())
            return FakeRows(schema, rows, cost, project=self.project)

    def load_table_from_file(
        self,
        file_obj: IO[bytes],
        destination: str,
        *,
        location: str | None = None,
        job_config: bigquery.LoadJobConfig | None = None,
        **_: Any,
    ) -> FakeJob:
        config = job_config or bigquery.LoadJobConfig()
        disposition = str(config.write_disposition or bigquery.WriteDisposition.WRITE_APPEND)
        with self._lock:
            self.requests.append(
                Request(
                    "load",
                    labels=dict(config.labels or {}),
                    location=location,
                    destination=destination,
                    write_disposition=disposition,
                )
            )
            batch = pq.read_table(file_obj)
            columns = [(f.name, bigquery_type(f.type)) for f in batch.schema]
            rows = [tuple(r[c] for c, _ in columns) for r in batch.to_pylist()]
            _, dataset, name = destination.split(".")
            if dataset not in self.state.datasets:
                raise not_found(f"Dataset {self.project}:{dataset}")
            existing = self.state.tables.get((dataset, name))
            if existing is None:
                self.state.tables[(dataset, name)] = FakeTable(
                    dataset, name, "BASE TABLE", columns, rows
                )
            elif disposition == bigquery.WriteDisposition.WRITE_EMPTY and existing.rows:
                raise google_errors.Conflict(f"Already Exists: Table {destination}")
            elif existing.columns != columns:
                raise google_errors.BadRequest(
                    f"Provided Schema does not match Table {destination}"
                )
            else:
                existing.rows.extend(rows)
        return FakeJob()

    def get_table(self, table: str | bigquery.TableReference) -> bigquery.Table:
        table = str(table)  # a TableReference too, as SQLAlchemy's BigQuery dialect passes
        with self._lock:
            self.requests.append(Request("get_table", destination=table))
            _, dataset, name = table.split(".")
            found = self.state.get(exp.Table(this=exp.to_identifier(name), db=dataset))
            schema = [
                bigquery.SchemaField(c, t, description=found.column_descriptions.get(c))
                for c, t in found.columns
            ]
            result = bigquery.Table(table, schema=schema)
            result.description = found.description
            return result

    # -- dry runs --------------------------------------------------------------------------
    def _cost(self, statement: exp.Expr) -> int:
        """Bytes the statement would scan; raises NotFound for what it names but is missing."""
        if isinstance(statement, exp.Drop):
            (table,) = statement.args["tables"]
            self.state.split(table)
            return 0
        if isinstance(statement, exp.Create):
            clone = statement.args.get("clone")
            if clone is not None:
                self.state.get(clone.this)
                return 0
            if statement.kind == "SCHEMA" or statement.expression is None:
                return 0
            cost = self._cost(statement.expression)
            return 0 if statement.kind == "VIEW" else cost  # a view reads nothing when created
        total = 0
        for table in tables_read(statement):
            if "INFORMATION_SCHEMA." in table.name.upper():
                self.state.information_schema(table)
                total += int(ANSWERS["information_schema_bytes"])
                continue
            target = self.state.resolve(self.state.get(table))
            pinned = self.scan_bytes.get((target.dataset, target.name))
            per_value = int(ANSWERS["bytes_per_value"])
            total += (
                pinned if pinned is not None else len(target.rows) * len(target.columns) * per_value
            )
        return total

    # -- running -------------------------------------------------------------------------
    def _execute(self, statement: exp.Expr) -> tuple[list[str], list[tuple[Any, ...]]]:
        from tests.bigquery_fake.ddl import create, drop
        from tests.bigquery_fake.dml import create_from_query, merge

        if isinstance(statement, exp.Merge):
            merge(self.state, statement)
            return [], []
        query = statement.expression if isinstance(statement, exp.Create) else None
        if isinstance(query, exp.Select) and query.args.get("qualify") is not None:
            create_from_query(self.state, statement)  # type: ignore[arg-type]
            return [], []
        if isinstance(statement, exp.Create):
            create(self.state, statement)
            return [], []
        if isinstance(statement, exp.Drop):
            drop(self.state, statement)
            return [], []
        assert isinstance(statement, exp.Select), statement.sql("bigquery")
        source = statement.args["from_"].this
        if "INFORMATION_SCHEMA." in source.name.upper():
            names = [e.name for e in statement.expressions]
            return names, select_rows(statement, self.state.information_schema(source))
        if statement.args.get("with_") or statement.args.get("joins") or statement.find(exp.Alias):
            # Profiles and join validation (named aggregates, CTEs, joins): answered by DuckDB.
            fields, found = run_select(self.state, statement, ())
            return [f.name for f in fields], [tuple(r.values()) for r in found]
        table = self.state.resolve(self.state.get(source))
        if statement.find(exp.FarmFingerprint):  # the content hash: count, sum of fingerprints
            total = sum(fingerprint(table.names, row) for row in table.rows)
            return ["count", "hash"], [(len(table.rows), total)]
        if isinstance(statement.expressions[0], exp.Count):
            return ["count"], [(len(table.rows),)]
        return self._project(statement, table)

    @staticmethod
    def _project(
        statement: exp.Select, table: FakeTable
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """SELECT columns (or *) FROM one table [WHERE ...]: what a CTAS in a test sends."""
        if isinstance(statement.expressions[0], exp.Star):
            statement = statement.copy()
            statement.set("expressions", [exp.column(n) for n in table.names])
        rows = [dict(zip(table.names, r, strict=True)) for r in table.rows]
        names = [e.name for e in statement.expressions]
        return names, select_rows(statement, rows)
