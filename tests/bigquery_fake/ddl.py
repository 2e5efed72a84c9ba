"""The DDL Spyne sends, applied to the fake project the way BigQuery applies it.

CREATE SCHEMA (a dataset), CREATE TABLE ... AS SELECT, CREATE TABLE ... CLONE, CREATE OR REPLACE
VIEW (checked against the table it selects from, descriptions from its column list and
OPTIONS), DROP TABLE / DROP VIEW (a drop of the wrong kind fails, as in BigQuery).
"""

from __future__ import annotations

from google.api_core import exceptions as google_errors
from sqlglot import exp

from tests.bigquery_fake.state import FakeTable, Project, not_found, select_rows


def _description(properties: exp.Expr | None) -> str | None:
    if properties is None:
        return None
    for prop in properties.find_all(exp.Property):
        if prop.name.lower() == "description":
            return str(prop.args["value"].this)
    return None


def _target(state: Project, table: exp.Table, replace: bool) -> tuple[str, str]:
    dataset, name = state.split(table)
    if dataset not in state.datasets:
        raise not_found(f"Dataset {state.project}:{dataset}")
    assert dataset is not None
    existing = state.tables.get((dataset, name))
    if existing is not None and not replace:
        raise google_errors.Conflict(f"Already Exists: Table {state.project}:{dataset}.{name}")
    return dataset, name


def create(state: Project, statement: exp.Create) -> None:
    kind = statement.kind
    if kind == "SCHEMA":
        dataset = statement.this.db
        if dataset in state.datasets and not statement.args.get("exists"):
            raise google_errors.Conflict(f"Already Exists: Dataset {state.project}:{dataset}")
        state.datasets.add(dataset)
        return
    if kind == "VIEW":
        _create_view(state, statement)
        return
    dataset, name = _target(state, statement.this, bool(statement.args.get("replace")))
    clone = statement.args.get("clone")
    if clone is not None:
        source = state.get(clone.this)
        state.tables[(dataset, name)] = FakeTable(
            dataset,
            name,
            "CLONE",
            list(source.columns),
            list(source.rows),
            source.description,
            dict(source.column_descriptions),
        )
        return
    select = statement.expression
    source = state.resolve(state.get(select.args["from_"].this))
    if isinstance(select.expressions[0], exp.Star):
        select = select.copy()
        select.set("expressions", [exp.column(n) for n in source.names])
    types = dict(source.columns)
    rows = select_rows(select, [dict(zip(source.names, r, strict=True)) for r in source.rows])
    columns = [(e.name, types.get(e.name, "STRING")) for e in select.expressions]
    state.tables[(dataset, name)] = FakeTable(dataset, name, "BASE TABLE", columns, rows)


def _create_view(state: Project, statement: exp.Create) -> None:
    this = statement.this
    listed = this.expressions if isinstance(this, exp.Schema) else []
    table = this.this if isinstance(this, exp.Schema) else this
    dataset, name = _target(state, table, bool(statement.args.get("replace")))
    existing = state.tables.get((dataset, name))
    if existing is not None and existing.kind != "VIEW":
        raise google_errors.BadRequest(f"{dataset}.{name} is a table, not a view")
    query = statement.expression
    target = state.get(query.args["from_"].this)  # BigQuery checks the view's query
    names = [c.name for c in listed] or target.names
    if len(names) != len(target.columns):
        raise google_errors.BadRequest("the view's column list does not match its query")
    described = {
        c.name: text
        for c in listed
        if isinstance(c, exp.ColumnDef)
        for text in [_description(c)]
        if text
    }
    state.tables[(dataset, name)] = FakeTable(
        dataset,
        name,
        "VIEW",
        [(n, t) for n, (_, t) in zip(names, target.columns, strict=True)],
        description=_description(statement.args.get("properties")),
        column_descriptions=described,
        view_definition=query.sql("bigquery"),
        view_target=(target.dataset, target.name),
    )


def drop(state: Project, statement: exp.Drop) -> None:
    (table,) = statement.args["tables"]
    dataset, name = state.split(table)
    if dataset not in state.datasets:
        raise not_found(f"Dataset {state.project}:{dataset}")
    found = state.tables.get((dataset, name))  # type: ignore[arg-type]
    if found is None:
        if statement.args.get("exists"):
            return
        raise not_found(f"Table {state.project}:{dataset}.{name}")
    if (statement.kind == "VIEW") != (found.kind == "VIEW"):
        raise google_errors.BadRequest(f"{dataset}.{name} is not a {statement.kind.lower()}")
    del state.tables[(dataset, name)]  # type: ignore[arg-type]
