"""MERGE, and CREATE TABLE AS a query the fake cannot evaluate itself, answered by DuckDB.

The tables the statement names are copied from the fake project into an in-memory DuckDB,
the statement (as BigQuery received it) runs there in DuckDB's dialect, and the table it
wrote is copied back: the MERGE of an upsert, the first version built from a batch.
"""

from __future__ import annotations

import duckdb
from google.api_core import exceptions as google_errors
from sqlglot import exp

from tests.bigquery_fake.sql import DUCKDB_TYPES, bigquery_type_of, tables_read
from tests.bigquery_fake.state import FakeTable, Project


def _load(con: duckdb.DuckDBPyConnection, state: Project, statement: exp.Expr) -> None:
    for table in tables_read(statement):
        found = state.resolve(state.get(table))
        schema = exp.to_identifier(found.dataset, quoted=True).sql("duckdb")
        target = exp.table_(
            exp.to_identifier(found.name, quoted=True),
            db=exp.to_identifier(found.dataset, quoted=True),
        ).sql("duckdb")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        columns = ", ".join(
            f"{exp.to_identifier(c, quoted=True).sql('duckdb')} {DUCKDB_TYPES.get(t, 'VARCHAR')}"
            for c, t in found.columns
        )
        con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
        if found.rows:
            marks = ", ".join("?" for _ in found.columns)
            con.executemany(f"INSERT INTO {target} VALUES ({marks})", found.rows)
        table.set("catalog", None)


def _read_back(
    con: duckdb.DuckDBPyConnection, table: exp.Table
) -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    plain = exp.table_(
        exp.to_identifier(table.name, quoted=True), db=exp.to_identifier(table.db, quoted=True)
    )
    cursor = con.execute(exp.select("*").from_(plain).sql("duckdb"))
    description = cursor.description or []
    columns = [(str(d[0]), bigquery_type_of(str(d[1]))) for d in description]
    return columns, [tuple(r) for r in cursor.fetchall()]


def merge(state: Project, statement: exp.Merge) -> None:
    """Run a MERGE on a copy of its tables, then keep the target's new rows."""
    target = state.get(statement.this)
    bound = statement.copy()
    con = duckdb.connect()
    try:
        _load(con, state, bound)
        con.execute(bound.sql("duckdb"))
        _, target.rows = _read_back(con, bound.this)
    finally:
        con.close()


def create_from_query(state: Project, statement: exp.Create) -> None:
    """CREATE TABLE AS a query (QUALIFY, joins): its rows computed by DuckDB."""
    target: exp.Table = statement.this
    dataset, name = target.db, target.name
    if (dataset, name) in state.tables:
        raise google_errors.Conflict(f"Already Exists: Table {state.project}:{dataset}.{name}")
    query = statement.expression.copy()
    con = duckdb.connect()
    try:
        _load(con, state, query)
        con.execute("CREATE SCHEMA IF NOT EXISTS spyne_fake_out")
        out = exp.table_("result", db="spyne_fake_out")
        con.execute(exp.Create(this=out, kind="TABLE", expression=query).sql("duckdb"))
        columns, rows = _read_back(con, out)
    finally:
        con.close()
    state.tables[(dataset, name)] = FakeTable(dataset, name, "BASE TABLE", columns, rows)
