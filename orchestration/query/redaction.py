"""Which result columns carry personal data, and their values replaced before anyone sees them.

Tables a query reads are scanned once per version (bounded samples, :mod:`.pii`); an output
column is redacted when any column it is computed from is one the PII policy says to redact,
unless it is only counted. Conservative on purpose: a column derived from an email is an email.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify

from orchestration.catalog import Catalog
from orchestration.query.pii import scan_version
from orchestration.query.resolve import Resolution, schema_of
from orchestration.warehouse import QueryResult, Warehouse
from orchestration.warehouse.statements import Statements
from policies.pii import Tier, must_redact, redacted

_COUNTS = (exp.Count,)


def scan_tables(catalog: Catalog, warehouse: Warehouse, resolution: Resolution) -> None:
    for found in resolution.tables.values():
        if found.version is None:
            continue
        name, version = found.resolved.table, found.version.version
        if not catalog.pii.scanned(name, version):
            findings = scan_version(warehouse, name, version, found.version.schema)
            catalog.pii.record_scan(name, version, findings)


def personal_columns(catalog: Catalog, resolution: Resolution) -> tuple[dict[str, str], list[str]]:
    """({column: kind} to redact, ["table.column (kind)"] waiting for review)."""
    redact: dict[str, str] = {}
    queued: list[str] = []
    for table in resolution.tables:
        for column in catalog.pii.columns(table):
            if must_redact(column.tier, column.status):
                redact.setdefault(column.column.lower(), column.kind.value)
            elif column.tier == Tier.LOW and column.status.value == "detected":
                queued.append(f"{column.name} ({column.kind.value})")
    return redact, queued


def _outputs(tree: exp.Expr) -> list[exp.Expr]:
    node = tree
    while isinstance(node, exp.Subquery | exp.SetOperation):
        node = node.this
    return list(node.expressions) if isinstance(node, exp.Select) else []


def redacted_outputs(
    physical: exp.Expr,
    resolution: Resolution,
    statements: Statements,
    personal: Mapping[str, str],
) -> dict[str, str]:
    """{output column: kind} for every output computed from a personal column."""
    if not personal:
        return {}
    tree = physical.copy()
    schema = schema_of(resolution, statements)
    if schema is not None:
        # A tree the qualifier cannot follow is kept as written: names still match below.
        with suppress(SqlglotError):
            tree = qualify(
                tree, schema=schema, dialect=statements.dialect.value, quote_identifiers=False
            )
    out: dict[str, str] = {}
    for projection in _outputs(tree):
        name = projection.alias_or_name
        kind = personal.get(name.lower())
        if kind is None:
            for column in projection.walk(prune=lambda n: isinstance(n, _COUNTS)):
                if isinstance(column, exp.Column) and column.name.lower() in personal:
                    kind = personal[column.name.lower()]
                    break
        if kind is not None:
            out[name] = kind
        elif isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            out.update(personal)  # a star the qualifier could not expand: match by name
    return out


def apply(result: QueryResult, columns: Mapping[str, str]) -> QueryResult:
    if not columns:
        return result
    lowered = {k.lower(): v for k, v in columns.items()}
    kinds = [lowered.get(c.lower()) for c in result.columns]
    if not any(kinds):
        return result
    rows = [
        tuple(
            redacted(kind) if kind is not None and value is not None else value
            for kind, value in zip(kinds, row, strict=False)
        )
        for row in result.rows
    ]
    return QueryResult(result.columns, rows, result.bytes_scanned, result.truncated)
