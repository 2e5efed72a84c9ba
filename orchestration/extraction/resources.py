"""A source table as a dlt resource: incremental on an event-time cursor, with a lag.

The lag re-reads a window behind the newest cursor value seen, so rows that arrive late (an
event time earlier than rows already extracted) are still picked up; dlt's incremental drops
rows it already yielded at the boundary. Column types are pinned from the source table's own
Arrow schema, so the landed columns have the source's types whatever the source kind
(``integer`` stays 32-bit, timestamps stay without a time zone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from dlt.extract.resource import DltResource
from sqlglot import exp

from orchestration.sources import PostgresSource, SourceLocation
from policies.errors import NotFound

BATCH_ROWS = 100_000


class _PinnedHintsNotice(logging.Filter):
    """dlt warns on every load that the pinned column hints differ from the Arrow schema the
    source delivers; pinning them is the point (:func:`column_hints`), so the notice is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "several column hints were different" not in record.getMessage()


logging.getLogger("dlt").addFilter(_PinnedHintsNotice())


@dataclass(frozen=True)
class ExtractSpec:
    """What to extract from one table: Spyne's reading of the table's contract semantics."""

    table: str  # the source table, and the landing table's name
    cursor_column: str  # the contract's event-time column
    lag: timedelta = timedelta(days=1)  # how far behind the newest cursor value to re-read
    initial: datetime | None = None  # the first run reads from here (None: everything)

    @property
    def pipeline_name(self) -> str:
        return f"spyne_landing_{self.table}"


def column_hints(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """dlt column hints that keep the source's types in the landing table."""
    hints: dict[str, dict[str, Any]] = {}
    for f in schema:
        if pa.types.is_timestamp(f.type):
            hints[f.name] = {
                "data_type": "timestamp",
                "timezone": f.type.tz is not None,
                "precision": 6,
            }
        elif pa.types.is_integer(f.type):
            hints[f.name] = {"data_type": "bigint", "precision": f.type.bit_width}
        elif pa.types.is_decimal(f.type):
            hints[f.name] = {
                "data_type": "decimal",
                "precision": f.type.precision,
                "scale": f.type.scale,
            }
    return hints


def _naive_utc(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ")


def _duckdb_schema(path: Path, table: str) -> pa.Schema:
    if not path.exists():
        raise NotFound(
            f"the source database {path} does not exist; run `spyne sample generate`",
            details={"path": str(path)},
        )
    query = exp.select("*").from_(exp.table_(table, db="main")).limit(0)
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            return con.sql(query.sql("duckdb")).to_arrow_table().schema
        except duckdb.CatalogException as e:
            raise NotFound(
                f"the source table {table} does not exist in {path}",
                details={"path": str(path), "table": table},
            ) from e


def _cursor(spec: ExtractSpec) -> dlt.sources.incremental[datetime]:
    """dlt's cursor on the event time, with the lag. A row without its event time cannot be
    placed by the cursor: it is left out (not a failed load), and the ingestion names the rows
    left out (``BronzeIngest.warn``)."""
    return dlt.sources.incremental(
        spec.cursor_column,
        initial_value=spec.initial,
        lag=spec.lag.total_seconds(),
        on_cursor_value_missing="exclude",
    )


def _duckdb_resource(path: Path, spec: ExtractSpec) -> DltResource:
    cursor = _cursor(spec)

    def rows(updated: dlt.sources.incremental[datetime] = cursor) -> Iterator[pa.Table]:
        query = exp.select("*").from_(exp.table_(spec.table, db="main"))
        if updated.start_value is not None:
            since = exp.cast(exp.Literal.string(_naive_utc(updated.start_value)), "timestamp")
            query = query.where(exp.column(spec.cursor_column).__ge__(since))
        with duckdb.connect(str(path), read_only=True) as con:
            reader = con.sql(query.sql("duckdb")).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                yield pa.Table.from_batches([batch])

    return dlt.resource(rows, name=spec.table, write_disposition="append")


def _postgres_resource(source: PostgresSource, spec: ExtractSpec) -> DltResource:
    from dlt.sources.sql_database import sql_table

    from orchestration.sources.postgres import libpq_url

    scheme, _, rest = libpq_url(source.url).partition("://")
    return sql_table(
        credentials=f"{scheme}+psycopg2://{rest}",
        table=spec.table,
        schema=source.schema,
        backend="pyarrow",
        chunk_size=BATCH_ROWS,
        reflection_level="full_with_precision",
        incremental=_cursor(spec),
    )


def source_schema(source: SourceLocation, table: str) -> pa.Schema:
    if isinstance(source, PostgresSource):
        from orchestration.sources.postgres import connection, table_schema

        with connection(source) as con, con.cursor() as cur:
            return table_schema(cur, source, table)
    return _duckdb_schema(Path(source), table)


def source_resource(source: SourceLocation, spec: ExtractSpec) -> DltResource:
    """The table as a dlt resource, its landed column types pinned to the source's."""
    schema = source_schema(source, spec.table)
    if isinstance(source, PostgresSource):
        resource = _postgres_resource(source, spec)
    else:
        resource = _duckdb_resource(Path(source), spec)
    resource.apply_hints(columns=column_hints(schema))  # type: ignore[arg-type]
    return resource


__all__ = ["ExtractSpec", "column_hints", "source_resource", "source_schema"]
