"""The sample ERP written into PostgreSQL, as Odoo itself would hold it.

The tables are the same as the DuckDB file's, row for row and type for type: they are built
by the same SQL in an in-memory DuckDB database, then copied over. The whole write is one
PostgreSQL transaction (DDL is transactional there), so a crash leaves the previous source
or the new one, never a mix; an advisory lock keeps two writers of the sample apart.
"""

from __future__ import annotations

from typing import Any

import duckdb
from sqlglot import exp

from orchestration.sample.schema import SOURCE_TABLES
from orchestration.sample.writer import load_tables
from orchestration.sources import PostgresSource
from orchestration.sources.postgres import (
    connection,
    copy_in,
    create_table,
    duckdb_columns,
    redacted,
    render,
    table_name,
)
from policies.errors import ApprovalRequired

# pg_advisory_xact_lock key held by every writer of the sample source (generate, advance).
SAMPLE_LOCK_KEY = 0x5350594E45  # "SPYNE"


def lock_sample(cur: Any) -> None:
    """Wait for any other writer of the sample; released when the transaction ends."""
    cur.execute(
        render(exp.select(exp.func("pg_advisory_xact_lock", exp.Literal.number(SAMPLE_LOCK_KEY))))
    )


def existing_tables(cur: Any, source: PostgresSource) -> list[str]:
    query = (
        exp.select("table_name")
        .from_(exp.Table(this=exp.to_identifier("tables"), db="information_schema"))
        .where(
            exp.and_(
                exp.EQ(
                    this=exp.column("table_schema"), expression=exp.Literal.string(source.schema)
                ),
                exp.In(
                    this=exp.column("table_name"),
                    expressions=[exp.Literal.string(t) for t in SOURCE_TABLES],
                ),
            )
        )
        .order_by("table_name")
    )
    cur.execute(render(query))
    return [str(name) for (name,) in cur.fetchall()]


def _exists_error(source: PostgresSource, found: list[str]) -> ApprovalRequired:
    return ApprovalRequired(
        f"the PostgreSQL source {redacted(source.url)} already holds sample tables "
        f"({', '.join(found)}) and Spyne builds from them; replacing them would lose the "
        "current source. Pass --force (engineer) to replace them, or another database.",
        details={"source": redacted(source.url), "tables": found, "flag": "--force"},
    )


def write_postgres(source: PostgresSource, tables: dict[str, Any], *, overwrite: bool) -> None:
    """Replace (or create) the sample tables in one transaction."""
    staged = duckdb.connect(":memory:")
    try:
        load_tables(staged, tables)
        with connection(source) as con, con.cursor() as cur:
            lock_sample(cur)
            found = existing_tables(cur, source)
            if found and not overwrite:
                raise _exists_error(source, found)
            cur.execute(
                render(
                    exp.Create(
                        this=exp.to_identifier(source.schema, quoted=True),
                        kind="SCHEMA",
                        exists=True,
                    )
                )
            )
            for name in found:
                cur.execute(
                    render(exp.Drop(tables=[table_name(source.schema, name)], kind="TABLE"))
                )
            for name in SOURCE_TABLES:
                cur.execute(render(create_table(source.schema, name, duckdb_columns(staged, name))))
                read = exp.select("*").from_(exp.table_(name, db="main")).sql("duckdb")
                rows = staged.sql(read).to_arrow_table()
                copy_in(cur, source.schema, name, rows)
    finally:
        staged.close()
