"""A Great Expectations SQL datasource that works on DuckDB (type ``duckdb_sql``).

GE 1.24's SQL path returns every query's result unread from inside ``with connection:``.
Closing a SQLAlchemy 2.x connection rolls back its auto-begun transaction, and with
duckdb-engine that rollback discards the pending result, so every metric comes back empty
(``MetricResolutionError: list index out of range``). The engine below reads the rows while
the connection is still open. ``tests/integration/test_gates.py`` keeps a strict xfail on the
stock path: the day it passes, upstream is fixed and this module can go.

Two more DuckDB specifics are handled here rather than in every caller:

- Pooling: a pooled connection keeps the DuckDB file locked for the life of the process, so
  dbt (another process) could not open the warehouse, and even this process could not
  reopen it with another configuration. Every engine uses ``NullPool``; a gate run pins one
  connection for its own duration (``single_connection``) and nothing stays open after it.
- Schemas: duckdb-engine's reflection fails under SQLAlchemy 2.1 (it asks for
  ``pg_catalog.pg_collation``), and GE's fallback then queries the bare table name, ignoring
  the asset's schema. A datasource is therefore bound to one schema (``default_schema``),
  made the connection's default with ``USE`` as each connection opens.

Importing this module registers the ``duckdb_sql`` type with GE (``context.data_sources.
add_duckdb_sql``); import it before ``gx.get_context()`` so a file-based context can load it.
:class:`DuckDBGateSource` is the gate runner's view of it (``runner.GateSource``), beside
BigQuery's in :mod:`orchestration.gates.bigquery_datasource`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import sqlalchemy as sa
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from sqlalchemy.pool import NullPool
from sqlglot import exp

from policies.errors import SpyneError

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.datasource.fluent.sql_datasource import TableAsset

DATASOURCE_TYPE = "duckdb_sql"


def duckdb_url(path: Path) -> str:
    """The SQLAlchemy URL of a warehouse file, built rather than formatted so any path survives."""
    return sa.engine.URL.create("duckdb", database=str(path)).render_as_string(hide_password=False)


def use_schema_statement(schema: str) -> str:
    """``USE "<schema>"`` with the name quoted by sqlglot, never spliced in as text."""
    return exp.Use(this=exp.Table(this=exp.to_identifier(schema, quoted=True))).sql(
        dialect="duckdb"
    )


def create_duckdb_engine(
    connection_string: str, default_schema: str | None = None, **kwargs: Any
) -> sa.Engine:
    """An engine that holds the file lock only while a connection is checked out.

    A caller's ``poolclass`` is dropped on purpose: any pool would keep the lock.
    """
    kwargs.pop("poolclass", None)
    engine = sa.create_engine(connection_string, poolclass=NullPool, **kwargs)
    if default_schema:
        statement = use_schema_statement(default_schema)

        def _use_default_schema(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(statement)
            finally:
                cursor.close()

        sa.event.listen(engine, "connect", _use_default_schema)
    return engine


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """GE's SQLAlchemy engine, reading results before the DuckDB connection closes."""

    def __init__(self, *args: Any, default_schema: str | None = None, **kwargs: Any) -> None:
        # Set before super().__init__, which builds the engine through _setup_engine.
        self._default_schema = default_schema
        self._pinned: sa.Connection | None = None
        kwargs.pop("poolclass", None)
        super().__init__(*args, **kwargs)

    def _setup_engine(
        self,
        kwargs: MutableMapping[str, Any],
        connection_string: str | None = None,
        credentials: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> None:
        target = connection_string or url
        if target is None:
            super()._setup_engine(kwargs=kwargs, credentials=credentials)
            return
        self.engine = create_duckdb_engine(target, self._default_schema, **kwargs)

    @contextmanager
    def single_connection(self) -> Iterator[sa.Connection]:
        """Run every query of one validation on one connection, closed when the block ends.

        Opening the file per query (NullPool) costs a new database instance and a cold buffer
        cache each time; one connection per gate run keeps the cache warm and still leaves
        nothing open afterwards. Nested use reuses the outer connection.
        """
        if self._pinned is not None:
            yield self._pinned
            return
        with self.engine.connect() as connection:
            self._pinned = connection
            try:
                yield connection
            finally:
                self._pinned = None

    @contextmanager
    def get_connection(self) -> Iterator[sa.Connection]:
        if self._pinned is not None:
            yield self._pinned
            return
        with self.engine.connect() as connection:
            yield connection

    def execute_query(self, query: sa.sql.Selectable | sa.TextClause) -> sa.CursorResult[Any]:
        with self.get_connection() as connection:
            try:
                result = self._execute_query_with_recovery(connection, query)
                # freeze() reads every row now; calling the frozen result replays them
                # after the connection (and its transaction) is gone.
                buffered = result.freeze()()
            except Exception:
                if connection is self._pinned:
                    # DuckDB aborts the transaction on error; the pinned connection must
                    # stay usable for the remaining metrics.
                    connection.rollback()
                raise
        # A buffered Result offers everything GE reads from a CursorResult (fetchall,
        # fetchone, scalar, first, keys).
        return cast("sa.CursorResult[Any]", buffered)


class DuckDBSQLDatasource(SQLDatasource):
    """A SQL datasource on one DuckDB file and one schema, using DuckDBExecutionEngine.

    Its own ``type`` (not ``duckdb``) so it cannot clash with a future upstream DuckDB type.
    """

    type: Literal["duckdb_sql"] = "duckdb_sql"  # type: ignore[assignment]
    default_schema: str | None = None

    @property
    def execution_engine_type(self) -> builtins.type[SqlAlchemyExecutionEngine]:
        # builtins.type: inside this class body, `type` is the pydantic field above.
        return DuckDBExecutionEngine

    @property
    def schema_(self) -> str | None:
        return self.default_schema

    def _create_engine(self) -> sa.Engine:
        # Same config substitution as SQLDatasource._create_engine, with our pool and schema.
        model = self.dict(
            exclude=self._get_exec_engine_excludes(), config_provider=self._config_provider
        )
        return create_duckdb_engine(
            str(model["connection_string"]),
            model.get("default_schema"),
            **dict(model.get("kwargs") or {}),
        )


@dataclass(frozen=True)
class DuckDBGateSource:
    """Where a gate looks on the embedded warehouse: one DuckDB file, opened only while it runs."""

    path: Path
    dialect: str = "duckdb"

    @property
    def name(self) -> str:
        return self.path.name

    def missing(self) -> str | None:
        # duckdb would silently create an empty file here; a gate must not.
        return None if self.path.is_file() else f"warehouse file {self.path} does not exist"

    def datasource(self, context: AbstractDataContext, schema: str) -> SQLDatasource:
        return context.data_sources.add_duckdb_sql(  # type: ignore[attr-defined,no-any-return]
            name="warehouse", connection_string=duckdb_url(self.path), default_schema=schema
        )

    def add_asset(self, datasource: SQLDatasource, schema: str, table: str) -> TableAsset:
        # The datasource is bound to the schema (see the module docstring).
        return datasource.add_table_asset(name=f"{schema}.{table}", table_name=table)

    @contextmanager
    def connection(self, datasource: SQLDatasource) -> Iterator[sa.Connection]:
        engine = cast(DuckDBExecutionEngine, datasource.get_execution_engine())
        try:
            with engine.single_connection() as connection:
                yield connection
        finally:
            engine.engine.dispose()
            _forget_dialects()

    def table_exists(self, connection: sa.Connection, schema: str, table: str) -> bool:
        count = connection.exec_driver_sql(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
            (schema, table),
        ).scalar()
        return bool(count)

    def refused(self) -> SpyneError | None:
        """DuckDB costs nothing per query: nothing is ever refused on the way."""
        return None


def _forget_dialects() -> None:
    """Let a disposed engine's dialect go.

    duckdb-engine, like the PostgreSQL dialect it extends, memoises reflection queries with
    ``functools.lru_cache`` on methods (``_comment_query`` and others), so the classes keep every
    dialect they saw, with the DuckDB types of every result in its type caches: a long process
    (the demo) would hold them to exit, where DuckDB reports them as leaked.
    """
    import duckdb_engine

    for klass in duckdb_engine.Dialect.__mro__:
        for member in vars(klass).values():
            clear = getattr(member, "cache_clear", None)
            if callable(clear):
                clear()
