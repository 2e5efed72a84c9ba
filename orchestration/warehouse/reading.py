"""Reading what a warehouse answered, the same way for every adapter.

Information-schema rows name tables and views; Spyne's naming (``<table>__v<N>`` in
``<layer>__shadow``, views in ``<layer>``) decides which of them are its own. A canonical view's
version is read from its own definition, parsed in the warehouse's dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlglot
from sqlglot import exp

from orchestration.warehouse.interface import WarehouseInventory
from policies.errors import ValidationFailed
from policies.naming import Layer, TableRef, parse_version_identifier, shadow_schema


def versions_by_table(ref: TableRef, names: Iterable[str]) -> list[int]:
    """The version numbers of ``ref`` among table names of its shadow schema."""
    found = []
    for name in names:
        parsed = parse_version_identifier(name)
        if parsed and parsed[0] == ref.name:
            found.append(parsed[1])
    return sorted(found)


def version_in_view_sql(sql: str, ref: TableRef, dialect: str) -> int | None:
    """Which version a canonical view selects from, read from its own definition."""
    try:
        parsed = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    for table in parsed.find_all(exp.Table):
        if table.db == ref.shadow_schema:
            found = parse_version_identifier(table.name)
            if found and found[0] == ref.name:
                return found[1]
    return None


def inventory_of(
    tables: Sequence[Sequence[object]], views: Sequence[Sequence[object]], dialect: str
) -> WarehouseInventory:
    """Versions from ``(schema, table)`` rows, views from ``(schema, view, definition)`` rows."""
    layers = {layer.value: layer for layer in Layer}
    shadows = {shadow_schema(layer): layer for layer in Layer}
    versions: dict[str, list[int]] = {}
    found: dict[str, int | None] = {}
    for schema, name, *_ in tables:
        parsed = parse_version_identifier(str(name)) if schema in shadows else None
        if parsed:
            canonical = TableRef(shadows[str(schema)], parsed[0]).canonical
            versions.setdefault(canonical, []).append(parsed[1])
    for schema, name, definition, *_ in views:
        if schema in layers:
            ref = TableRef(layers[str(schema)], str(name))
            found[ref.canonical] = version_in_view_sql(str(definition), ref, dialect)
    return WarehouseInventory(
        {k: sorted(v) for k, v in sorted(versions.items())}, dict(sorted(found.items()))
    )


def read_only_select(query: exp.Expr) -> exp.Query:
    """Refuse anything but a plain query: the profiling entry point never writes."""
    writes = (exp.Create, exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Merge, exp.Alter)
    if not isinstance(query, exp.Query) or any(query.find_all(*writes)):
        raise ValidationFailed(
            "the warehouse's read entry point runs SELECT queries only; "
            f"got {type(query).__name__}",
            details={"statement": type(query).__name__},
        )
    return query
