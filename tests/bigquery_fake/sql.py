"""Any read-only SELECT on the fake project, answered by DuckDB: what a GE gate sends.

Great Expectations' queries (aggregates, CASE, IN UNNEST(@values), subqueries) are more than
the statements :mod:`tests.bigquery_fake.client` evaluates itself. Here the query, as BigQuery
would receive it (with its ``@name`` query parameters), is parsed with sqlglot's BigQuery
dialect, its parameters are bound as literals, the tables it names are copied from the fake
project into an in-memory DuckDB, and sqlglot writes it in DuckDB's dialect to run there. A
query sqlglot cannot parse as BigQuery fails here, as it would in BigQuery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
from google.cloud import bigquery
from sqlglot import exp

from tests.bigquery_fake.state import Project

DUCKDB_TYPES = {
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "NUMERIC": "DECIMAL(38, 9)",
    "STRING": "VARCHAR",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP": "TIMESTAMPTZ",
}
BIGQUERY_TYPES = {
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "HUGEINT": "NUMERIC",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "VARCHAR": "STRING",
    "BOOLEAN": "BOOL",
    "DATE": "DATE",
    "TIMESTAMP": "DATETIME",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


def bigquery_type_of(duckdb_type: str) -> str:
    """The BigQuery type of a DuckDB result column (DECIMAL(p, s) is NUMERIC)."""
    upper = duckdb_type.upper()
    return "NUMERIC" if upper.startswith("DECIMAL") else BIGQUERY_TYPES.get(upper, "STRING")


@dataclass
class FakeRows:
    """The part of ``google.cloud.bigquery.table.RowIterator`` the DB-API cursor reads."""

    schema: list[bigquery.SchemaField]
    rows: list[bigquery.Row] = field(default_factory=list)
    total_bytes_processed: int | None = None
    job_id: str | None = None
    project: str | None = None
    location: str | None = None
    num_dml_affected_rows: int | None = None

    @property
    def total_rows(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[bigquery.Row]:
        return iter(self.rows)

    def _should_use_bqstorage(self, *_: Any, **__: Any) -> bool:
        return False


def text_fingerprint(text: str) -> int:
    """A signed 64-bit hash of a string, standing in for BigQuery's FARM_FINGERPRINT."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _value(parameter: Any) -> exp.Expr:
    if isinstance(parameter, bigquery.ArrayQueryParameter):
        return exp.Array(expressions=[exp.convert(v) for v in parameter.values])
    return exp.convert(parameter.value)


def bind(statement: exp.Expr, parameters: Sequence[Any]) -> exp.Expr:
    """Every ``@name`` replaced by its value, as BigQuery binds a query parameter."""
    values = {p.name: _value(p) for p in parameters}

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Parameter):
            return values[node.name].copy()
        return node

    return statement.transform(replace)


def tables_read(statement: exp.Expr) -> list[exp.Table]:
    """The tables a query reads: every table reference that is not one of its own CTEs."""
    ctes = {c.alias_or_name for c in statement.find_all(exp.CTE)}
    return [t for t in statement.find_all(exp.Table) if t.db or t.name not in ctes]


def run_select(
    state: Project, statement: exp.Expr, parameters: Sequence[Any]
) -> tuple[list[bigquery.SchemaField], list[bigquery.Row]]:
    if not isinstance(statement, exp.Query):
        raise AssertionError(f"the fake runs read-only queries only: {statement.sql('bigquery')}")
    bound = bind(statement, parameters)
    con = duckdb.connect()
    con.create_function("farm_fingerprint", text_fingerprint, ["VARCHAR"], "BIGINT")
    copied: set[str] = set()
    try:
        for table in tables_read(bound):
            found = state.resolve(state.get(table))
            schema = exp.to_identifier(found.dataset, quoted=True)
            name = exp.to_identifier(found.name, quoted=True)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema.sql('duckdb')}")
            target = exp.table_(name, db=schema).sql("duckdb")
            table.set("catalog", None)  # one project: DuckDB's default database
            if target in copied:  # read twice (a self-join): copied once
                continue
            copied.add(target)
            columns = ", ".join(
                f"{exp.to_identifier(c, quoted=True).sql('duckdb')} {DUCKDB_TYPES.get(t, 'VARCHAR')}"
                for c, t in found.columns
            )
            con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
            if found.rows:
                marks = ", ".join("?" for _ in found.columns)
                con.executemany(f"INSERT INTO {target} VALUES ({marks})", found.rows)
        con.execute(bound.sql("duckdb"))
        description = con.description or []
        values = con.fetchall()
    finally:
        con.close()
    schema_fields = [
        bigquery.SchemaField(str(d[0]), bigquery_type_of(str(d[1]))) for d in description
    ]
    index = {f.name: i for i, f in enumerate(schema_fields)}
    return schema_fields, [bigquery.Row(tuple(v), index) for v in values]
