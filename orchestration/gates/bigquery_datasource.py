"""The gate on BigQuery: GE's BigQuery SQL datasource, every query dry-run, capped and labelled.

GE builds its metrics as SQLAlchemy queries; ``sqlalchemy-bigquery`` renders them in BigQuery's
dialect and runs them through BigQuery's DB-API, which hands each one to its client's
``query_and_wait``. That client is :class:`GateJobs`, in front of the warehouse's own client:
each query is dry-run first, its estimate goes to ``policies.query_cost`` like every other
query Spyne sends, and the job that runs carries the byte cap as ``maximum_bytes_billed`` and
labels that name the gate, the table, the version and the principal. Nothing is pulled into
pandas: the checks stay pushed down.

GE swallows what a metric raises (the expectation is reported as errored), so what stops the
gate itself (a query over the cap, credentials that do not work, BigQuery unavailable) is also
kept on :class:`GateJobs`, typed as everywhere else (``cost_limit_exceeded``, ``config_invalid``,
``storage_unavailable``); the gate reports it as a refusal, never as a verdict on the data, and
refuses every later query of the run without sending it. A query BigQuery rejects stays an
errored expectation, which fails the gate as it does on DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import sqlalchemy as sa
from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from google.cloud import bigquery
from great_expectations.datasource.fluent.bigquery_datasource import BigQueryDatasource

from orchestration.warehouse.bigquery_jobs import Jobs, job_labels
from policies.decisions import refusal
from policies.errors import CostLimitExceeded, SpyneError
from policies.query_cost import CostFacts, decide_query_cost

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.datasource.fluent import SQLDatasource
    from great_expectations.datasource.fluent.sql_datasource import TableAsset

    from orchestration.warehouse.bigquery_jobs import BigQueryClient
    from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
    from policies.naming import TableRef

GATE_ACTION = "gate"
T = TypeVar("T")


def _copy(config: bigquery.QueryJobConfig) -> bigquery.QueryJobConfig:
    """The DB-API's config (its query parameters, above all) for one more job."""
    return cast(
        bigquery.QueryJobConfig, bigquery.QueryJobConfig.from_api_repr(config.to_api_repr())
    )


class GateJobs:
    """The BigQuery client GE's DB-API connection uses; the warehouse's client does the work."""

    def __init__(
        self,
        client: BigQueryClient,
        *,
        location: str,
        max_bytes: int,
        labels: Mapping[str, str],
        table: str | None,
    ) -> None:
        self._jobs = Jobs(client, location=location, max_bytes=max_bytes)
        self.labels = dict(labels)
        self.table = table
        self.refusal: SpyneError | None = None
        self.dry_runs = 0

    def _refuse(self, refused: SpyneError) -> NoReturn:
        self.refusal = refused
        raise refused

    def _sent(self, send: Callable[[], T]) -> T:
        """``send()``, with what stops the gate itself (cost, credentials, an unavailable
        BigQuery) kept as a typed refusal; an error in the query stays GE's to report."""
        try:
            return send()
        except google_errors.NotFound:
            raise
        except (google_errors.GoogleAPICallError, auth_errors.GoogleAuthError) as exc:
            try:
                with self._jobs.errors(GATE_ACTION, self.table):
                    raise exc
            except SpyneError as typed:
                if isinstance(exc, google_errors.BadRequest) and not isinstance(
                    typed, CostLimitExceeded
                ):
                    raise exc from None  # BigQuery rejected this query: an errored expectation
                self._refuse(typed)

    def _checked(
        self, query: str, job_config: bigquery.QueryJobConfig | None
    ) -> bigquery.QueryJobConfig:
        """The config to run ``query`` with, once its dry run is within the cap; else refuse."""
        if self.refusal is not None:
            raise self.refusal
        config = job_config or bigquery.QueryJobConfig()
        dry = _copy(config)
        dry.dry_run = True
        dry.use_query_cache = False
        dry.labels = dict(self.labels)
        self.dry_runs += 1
        client, location = self._jobs.client, self._jobs.location
        estimate = self._sent(lambda: client.query(query, job_config=dry, location=location))
        facts = CostFacts(
            GATE_ACTION, True, estimate.total_bytes_processed, self._jobs.max_bytes, self.table
        )
        decision = decide_query_cost(facts)
        if not decision.allowed:
            self._refuse(refusal(decision))
        run = _copy(config)
        run.maximum_bytes_billed = self._jobs.max_bytes
        run.labels = dict(self.labels)
        return run

    def query_and_wait(
        self,
        query: str,
        *,
        job_config: bigquery.QueryJobConfig | None = None,
        **kwargs: Any,
    ) -> Any:
        """What the DB-API cursor calls for every statement."""
        config = self._checked(query, job_config)
        kwargs.setdefault("location", self._jobs.location)
        client: Any = self._jobs.client
        return self._sent(lambda: client.query_and_wait(query, job_config=config, **kwargs))

    def query(
        self,
        query: str,
        job_config: bigquery.QueryJobConfig | None = None,
        **kwargs: Any,
    ) -> Any:
        """What the DB-API cursor calls when it is given a job id."""
        config = self._checked(query, job_config)
        kwargs.setdefault("location", self._jobs.location)
        client = self._jobs.client
        return self._sent(lambda: client.query(query, job_config=config, **kwargs))

    def get_table(self, table: Any) -> bigquery.Table:
        """Table metadata (columns, existence) for the dialect's reflection: free, no job."""
        return self._sent(lambda: self._jobs.client.get_table(table))

    def close(self) -> None:
        """The DB-API closes only clients it made; the warehouse's client stays open."""


def gate_url(project: str, dataset: str) -> str:
    """``bigquery://project/dataset``, the client supplied by Spyne (not built from the URL)."""
    return sa.engine.URL.create(
        "bigquery", host=project, database=dataset, query={"user_supplied_client": "true"}
    ).render_as_string(hide_password=False)


@dataclass
class BigQueryGateSource:
    """Where a gate looks on BigQuery: the warehouse's client, project, location and byte cap."""

    client: BigQueryClient
    project: str
    location: str
    max_bytes: int
    labels: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    dialect: str = "bigquery"
    jobs: GateJobs | None = field(default=None, init=False)

    @classmethod
    def of(cls, warehouse: BigQueryWarehouse, ref: TableRef, version: int) -> BigQueryGateSource:
        return cls(
            warehouse.jobs.client,
            warehouse.project,
            warehouse.region,
            warehouse.jobs.max_bytes,
            labels=job_labels(GATE_ACTION, ref, version),
            table=ref.canonical,
        )

    @property
    def name(self) -> str:
        return f"bigquery://{self.project}"

    def missing(self) -> None:
        """A project has no file to lose; a missing table is found by :meth:`table_exists`."""
        return None

    def datasource(self, context: AbstractDataContext, schema: str) -> SQLDatasource:
        self.jobs = GateJobs(
            self.client,
            location=self.location,
            max_bytes=self.max_bytes,
            labels=self.labels,
            table=self.table,
        )
        # GE's own BigQuery type (a SQLDatasource); the connection's client is ours.
        datasource = BigQueryDatasource(
            name="warehouse",
            connection_string=gate_url(self.project, schema),
            kwargs={"connect_args": {"client": self.jobs, "prefer_bqstorage_client": False}},
        )
        return context.data_sources.add_bigquery(datasource=datasource)

    def add_asset(self, datasource: SQLDatasource, schema: str, table: str) -> TableAsset:
        return datasource.add_table_asset(
            name=f"{schema}.{table}", table_name=table, schema_name=schema
        )

    @contextmanager
    def connection(self, datasource: SQLDatasource) -> Iterator[sa.Connection]:
        """Any connection will do: a BigQuery connection is the client, every query its own job."""
        engine = datasource.get_execution_engine().engine
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    def table_exists(self, connection: sa.Connection, schema: str, table: str) -> bool:
        return bool(sa.inspect(connection).has_table(table, schema=schema))

    def refused(self) -> SpyneError | None:
        return None if self.jobs is None else self.jobs.refusal
