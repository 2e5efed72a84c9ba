"""A PostgreSQL source: tables read and written as Arrow through ``COPY ... CSV``.

DuckDB's postgres extension is downloaded on first use, and these machines are offline, so
Spyne talks to PostgreSQL with psycopg2 (already its catalog driver). ``COPY`` moves a table
in one round trip at about the speed of the network; Arrow's CSV reader and writer convert
it with the exact types (``numeric(18,2)`` as decimal128, never floats). In both directions
NULL is an unquoted empty field and the empty string a quoted one, so neither is mistaken
for the other. Every statement is a sqlglot expression rendered for PostgreSQL.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlglot import exp

from orchestration.sources import PostgresSource
from policies.errors import NotFound, StorageUnavailable

if TYPE_CHECKING:
    import duckdb

DIALECT = "postgres"
_CSV = [exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("csv"))]


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<PostgreSQL URL>"


def libpq_url(url: str) -> str:
    """psycopg2 takes a libpq URI: ``postgresql://``, never a SQLAlchemy driver suffix."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


@contextmanager
def connection(source: PostgresSource) -> Iterator[Any]:
    """A connection in one transaction: committed when the block ends, rolled back if it fails."""
    import psycopg2

    try:
        con = psycopg2.connect(libpq_url(source.url))
    except psycopg2.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StorageUnavailable(
            f"cannot connect to the PostgreSQL source {redacted(source.url)}: {first}; check "
            "SPYNE_SOURCE_URL (or --postgres) and that the server is running",
            details={"source": redacted(source.url), "error": first},
        ) from None
    try:
        with con:  # commit on success, rollback on error
            yield con
    finally:
        con.close()


def render(expression: exp.Expr) -> str:
    return expression.sql(dialect=DIALECT)


def table_name(schema: str, name: str) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )


def _columns_query(schema: str, name: str) -> exp.Select:
    return (
        exp.select("column_name", "data_type", "numeric_precision", "numeric_scale")
        .from_(exp.Table(this=exp.to_identifier("columns"), db="information_schema"))
        .where(
            exp.and_(
                exp.EQ(this=exp.column("table_schema"), expression=exp.Literal.string(schema)),
                exp.EQ(this=exp.column("table_name"), expression=exp.Literal.string(name)),
            )
        )
        .order_by("ordinal_position")
    )


_ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
    "character varying": pa.string(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "double precision": pa.float64(),
    "real": pa.float32(),
}


def arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    if data_type == "numeric" and precision is not None:
        return pa.decimal128(int(precision), int(scale or 0))
    return _ARROW_TYPES.get(data_type, pa.string())


def table_schema(cur: Any, source: PostgresSource, name: str) -> pa.Schema:
    cur.execute(render(_columns_query(source.schema, name)))
    rows = cur.fetchall()
    if not rows:
        raise NotFound(
            f"the source table {source.schema}.{name} does not exist in {redacted(source.url)}; "
            "run `spyne sample generate --postgres URL` or check SPYNE_SOURCE_URL",
            details={"source": redacted(source.url), "table": name},
        )
    return pa.schema([(c, arrow_type(t, p, s)) for c, t, p, s in rows])


def copy_out(cur: Any, query: exp.Query, schema: pa.Schema) -> pa.Table:
    """The rows of ``query`` as Arrow with ``schema``'s types, in one ``COPY TO STDOUT``."""
    statement = exp.Copy(
        this=exp.Subquery(this=query), kind=False, files=[exp.var("STDOUT")], params=_CSV
    )
    buffer = io.BytesIO()
    cur.copy_expert(render(statement), buffer)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return schema.empty_table()
    return pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=schema.names),
        convert_options=pa_csv.ConvertOptions(
            column_types={f.name: f.type for f in schema},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def read_table(source: PostgresSource, name: str, where: exp.Expr | None = None) -> pa.Table:
    """The rows of a source table (those ``where`` holds), in one transaction (a snapshot)."""
    with connection(source) as con, con.cursor() as cur:
        schema = table_schema(cur, source, name)
        query = exp.select(*[exp.column(c, quoted=True) for c in schema.names]).from_(
            table_name(source.schema, name)
        )
        return copy_out(cur, query if where is None else query.where(where), schema)


def copy_in(cur: Any, schema: str, name: str, rows: pa.Table) -> None:
    """Append Arrow rows to a table with one ``COPY FROM STDIN``."""
    target = exp.Schema(
        this=table_name(schema, name),
        expressions=[exp.to_identifier(c, quoted=True) for c in rows.column_names],
    )
    statement = exp.Copy(this=target, kind=True, files=[exp.var("STDIN")], params=_CSV)
    buffer = io.BytesIO()
    pa_csv.write_csv(
        rows, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    )
    buffer.seek(0)
    cur.copy_expert(render(statement), buffer)


def create_table(schema: str, name: str, columns: Sequence[tuple[str, str]]) -> exp.Create:
    """``CREATE TABLE`` with DuckDB column types translated to PostgreSQL's."""
    return exp.Create(
        this=exp.Schema(
            this=table_name(schema, name),
            expressions=[
                exp.ColumnDef(
                    this=exp.to_identifier(c, quoted=True),
                    kind=exp.DataType.build(t, dialect="duckdb"),
                )
                for c, t in columns
            ],
        ),
        kind="TABLE",
    )


def duckdb_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    """A DuckDB table's columns and types, for the PostgreSQL copy of it."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = ? order by ordinal_position",
        [name],
    ).fetchall()
    return [(str(c), str(t)) for c, t in rows]
