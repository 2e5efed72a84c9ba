"""A READ_ONLY source's live columns from its information schema: no row is read.

The DuckDB file is read by the warehouse adapter (opened read-only); a PostgreSQL source by one
query on its ``information_schema.columns``, with types spelled as PostgreSQL names them
(``numeric(18,2)``, ``character varying(64)``) so the drift rules parse them in its dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from orchestration.sources import PostgresSource, SourceLocation
from policies.drift import Column

if TYPE_CHECKING:
    from orchestration.warehouse import Warehouse

DUCKDB = "duckdb"
POSTGRES = "postgres"


def source_dialect(source: SourceLocation) -> str:
    return POSTGRES if isinstance(source, PostgresSource) else DUCKDB


def columns_query(schema: str, tables: Sequence[str]) -> exp.Select:
    return (
        exp.select(
            "table_name",
            "column_name",
            "data_type",
            "character_maximum_length",
            "numeric_precision",
            "numeric_scale",
            "is_nullable",
        )
        .from_(exp.Table(this=exp.to_identifier("columns"), db="information_schema"))
        .where(
            exp.and_(
                exp.EQ(this=exp.column("table_schema"), expression=exp.Literal.string(schema)),
                exp.column("table_name").isin(*(exp.Literal.string(t) for t in tables)),
            )
        )
        .order_by("table_name", "ordinal_position")
    )


def postgres_type(
    data_type: str, length: int | None, precision: int | None, scale: int | None
) -> str:
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})"
    if data_type in ("character varying", "character") and length is not None:
        return f"{data_type}({length})"
    return data_type


def postgres_columns(
    source: PostgresSource, tables: Sequence[str]
) -> dict[str, tuple[Column, ...]]:
    from orchestration.sources.postgres import connection, render

    out: dict[str, list[Column]] = {}
    with connection(source) as con, con.cursor() as cur:
        cur.execute(render(columns_query(source.schema, tables)))
        for table, name, data_type, length, precision, scale, nullable in cur.fetchall():
            out.setdefault(str(table), []).append(
                Column(
                    str(name),
                    postgres_type(str(data_type), length, precision, scale),
                    nullable == "YES",
                )
            )
    return {t: tuple(cols) for t, cols in out.items()}


def source_columns(
    warehouse: Warehouse, source: SourceLocation, tables: Sequence[str]
) -> dict[str, tuple[Column, ...]]:
    """Each table's live columns in order; a table the source lacks is absent."""
    if not tables:
        return {}
    if isinstance(source, PostgresSource):
        return postgres_columns(source, tables)
    return warehouse.source_columns(source, tables)
