"""Where a READ_ONLY source lives: the embedded DuckDB file, or a PostgreSQL database.

Odoo runs on PostgreSQL, so a real deployment reads one; the DuckDB file stays the embedded
default. Callers hold a :data:`SourceLocation` and never branch on its kind themselves:
:func:`read_source_rows` reads a table from either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp


@dataclass(frozen=True)
class PostgresSource:
    """A PostgreSQL database holding the source tables (in ``schema``)."""

    url: str = field(repr=False)  # carries the password
    schema: str = "public"

    def __str__(self) -> str:
        from orchestration.sources.postgres import redacted

        return redacted(self.url)


SourceLocation = Path | PostgresSource


def read_source_rows(source: SourceLocation, table: str, where: exp.Expr | None = None) -> pa.Table:
    """The rows of a source table (every row, or those ``where`` holds) as Arrow, with the
    source's column types; ``where`` is rendered in the source's dialect."""
    if isinstance(source, PostgresSource):
        from orchestration.sources.postgres import read_table

        return read_table(source, table, where)
    from orchestration.warehouse.duckdb_warehouse import read_source_table

    return read_source_table(source, table, where)


__all__ = ["PostgresSource", "SourceLocation", "read_source_rows"]
