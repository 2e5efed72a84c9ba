"""Names in a query to the versions they read: pins, catalog lookups, the physical rewrite,
and column checks, all on the sqlglot tree (never on the text).

``<layer>.<table>@v<N>`` pins a version; the pin is found among the dialect's tokens, so the
same characters inside a string or a comment are never touched. The tree then names physical
versions, so what runs is exactly what was previewed even if a view moves meanwhile.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from orchestration.catalog import Catalog, TableInfo, VersionInfo
from orchestration.warehouse.statements import Dialect, Statements
from policies.decisions import Decision, combine_all
from policies.naming import (
    SHADOW_SUFFIX,
    Layer,
    parse_table_ref,
    parse_version_identifier,
)
from policies.query_resolution import Resolved, TableFacts, TableRequest, decide_table
from policies.roles import Role
from policies.sql_safety import SafetyFacts
from policies.sql_safety import TableFacts as SafetyTableFacts

_PIN = re.compile(r"^v([1-9][0-9]*)$", re.IGNORECASE)
_TIME_TYPES = ("DATE", "TIMESTAMP", "DATETIME", "TIME")
LAYERS = {layer.value for layer in Layer}


def extract_pins(sql: str, dialect: str) -> tuple[str, dict[str, int]]:
    """``gold.orders@v3`` -> (``gold.orders``, {"gold.orders": 3}), read from the tokens."""
    try:
        tokens = SqlglotDialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError:
        return sql, {}  # the gate reports the text's problem
    pins: dict[str, int] = {}
    cuts: list[tuple[int, int]] = []
    for i in range(len(tokens) - 4):
        layer, dot, name, at, version = tokens[i : i + 5]
        if (
            dot.text == "."
            and at.text == "@"
            and at.start == name.end + 1
            and version.start == at.end + 1
            and _PIN.match(version.text)
            and layer.text.lower() in LAYERS
        ):
            pins[f"{layer.text.lower()}.{name.text.lower()}"] = int(version.text[1:])
            cuts.append((at.start, version.end + 1))
    for start, end in reversed(cuts):
        sql = sql[:start] + sql[end:]
    return sql, pins


@dataclass(frozen=True)
class ResolvedTable:
    resolved: Resolved
    info: TableInfo
    version: VersionInfo | None  # None for READ_ONLY sources

    def describe(self) -> dict[str, object]:
        return {
            "table": self.resolved.table,
            "state": self.resolved.state.value,
            "version": self.resolved.version,
            "rows": self.version.row_count if self.version else None,
            "row_version": self.info.row_version,
        }

    @property
    def label(self) -> str:
        v = f"v{self.resolved.version}, " if self.resolved.version else ""
        rows = f"{self.version.row_count:,} rows" if self.version else "external source"
        return f"{self.resolved.table} ({self.resolved.state.value} {v}{rows})"


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias for cte in tree.find_all(exp.CTE)}


def table_nodes(tree: exp.Expr) -> list[exp.Table]:
    """Tables the query reads from the warehouse (not its own CTEs, not table functions)."""
    ctes = _cte_names(tree)
    return [
        t
        for t in tree.find_all(exp.Table)
        if isinstance(t.this, exp.Identifier) and not (not t.db and t.name in ctes)
    ]


def request_for(
    node: exp.Table, pins: Mapping[str, int], tables: Mapping[str, TableInfo]
) -> TableRequest:
    written = ".".join(p for p in (node.catalog, node.db, node.name) if p)
    db, name = node.db.lower(), node.name.lower()
    if node.catalog:
        return TableRequest(written, None)
    if db.endswith(SHADOW_SUFFIX) and db.removesuffix(SHADOW_SUFFIX) in LAYERS:
        parsed = parse_version_identifier(name)
        if parsed is not None:
            canonical = f"{db.removesuffix(SHADOW_SUFFIX)}.{parsed[0]}"
            return TableRequest(written, canonical, parsed[1], versioned_name=True)
        return TableRequest(written, None)
    if db in LAYERS:
        canonical = f"{db}.{name}"
        return TableRequest(written, canonical, pins.get(canonical))
    if not db:
        matches = [t for t in tables if t.split(".", 1)[1] == name]
        if len(matches) == 1:
            return TableRequest(written, matches[0], pins.get(matches[0]))
    return TableRequest(written, None)


@dataclass
class Resolution:
    tables: dict[str, ResolvedTable]  # canonical -> resolved
    decision: Decision
    requests: list[tuple[exp.Table, TableRequest]]


def resolve_tables(
    catalog: Catalog, tree: exp.Expr, pins: Mapping[str, int], role: Role
) -> Resolution:
    infos = {t.name: t for t in catalog.list_tables()}
    known = sorted(infos)
    decisions: list[Decision] = []
    resolved: dict[str, ResolvedTable] = {}
    requests = []
    for node in table_nodes(tree):
        request = request_for(node, pins, infos)
        requests.append((node, request))
        info = infos.get(request.canonical or "")
        versions = catalog.list_versions(info.name) if info else []
        facts = (
            TableFacts(
                info.name, info.state, info.active_version, tuple(v.version for v in versions)
            )
            if info
            else None
        )
        decision, found = decide_table(request, facts, role, known)
        decisions.append(decision)
        if found is not None and info is not None:
            version = next((v for v in versions if v.version == found.version), None)
            resolved[found.table] = ResolvedTable(found, info, version)
    return Resolution(resolved, combine_all(decisions), requests)


def safety_facts(
    resolution: Resolution, partitioned: Mapping[str, tuple[str, ...]] | None = None
) -> SafetyFacts:
    """Row counts, time columns and the query policy's partitioned marks (``layer.table`` -> its
    partition columns) for the gate's time-filter rule, under every name a query may use for
    the table (canonical, bare, versioned)."""
    marks = partitioned or {}
    out: dict[str, SafetyTableFacts] = {}
    for node, request in resolution.requests:
        found = resolution.tables.get(request.canonical or "")
        if found is None:
            continue
        marked = marks.get(found.resolved.table)
        if found.version is None and marked is None:
            continue
        columns = tuple(
            str(c["name"])
            for c in (found.version.schema if found.version else ())
            if str(c.get("data_type", "")).upper().startswith(_TIME_TYPES)
        )
        facts = SafetyTableFacts(
            partitioned=marked is not None,
            row_count=found.version.row_count if found.version else None,
            time_columns=marked or columns,
        )
        written = ".".join(p for p in (node.db, node.name) if p).lower()
        out[written] = facts
    return SafetyFacts(out)


def to_physical(tree: exp.Expr, resolution: Resolution, statements: Statements) -> exp.Expr:
    """Point every table at the version it resolved to; keep the names queries refer to."""
    physical = tree.copy()
    for node in table_nodes(physical):
        request = request_for(
            node, {}, {r.resolved.table: r.info for r in resolution.tables.values()}
        )
        canonical = request.canonical
        if canonical is None or canonical not in resolution.tables:
            continue
        found = resolution.tables[canonical]
        ref = parse_table_ref(canonical)
        target = (
            statements.canonical_table(ref)
            if found.resolved.version is None
            else statements.version_table(ref, found.resolved.version)
        )
        alias = node.alias or node.name
        target.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        node.replace(target)
    return physical


def schema_of(resolution: Resolution, statements: Statements) -> dict[str, object] | None:
    """The nested mapping sqlglot's qualifier reads; None when a table has no recorded schema."""
    schema: dict[str, object] = {}
    for found in resolution.tables.values():
        if found.version is None:
            return None
        ref = parse_table_ref(found.resolved.table)
        table = statements.version_table(ref, found.version.version)
        columns = {
            str(c["name"]): str(c.get("data_type") or "UNKNOWN") for c in found.version.schema
        }
        level: dict[str, object] = schema
        for part in [p for p in (table.catalog, table.db) if p]:
            level = level.setdefault(part, {})  # type: ignore[assignment]
        level[table.name] = columns
    return schema


def unknown_columns(physical: exp.Expr, resolution: Resolution, statements: Statements) -> Decision:
    """Refuse columns no table in the query has, naming the closest ones."""
    schema = schema_of(resolution, statements)
    if schema is None or not resolution.tables:
        return Decision.allow()
    try:
        qualify(
            physical.copy(),
            schema=schema,
            dialect=statements.dialect.value,
            validate_qualify_columns=True,
            quote_identifiers=False,
        )
    except OptimizeError as exc:
        message = str(exc)
        match = re.search(r"[Cc]olumn '([^']+)'|[Cc]olumn: ([\w.\"]+)", message)
        column = (match.group(1) or match.group(2)).strip('"') if match else None
        every = sorted(
            {
                str(c["name"])
                for r in resolution.tables.values()
                if r.version
                for c in r.version.schema
            }
        )
        near = difflib.get_close_matches(column.split(".")[-1], every, n=3) if column else []
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return Decision.block(
            "unknown_column",
            f"column {column or '?'} is not in {', '.join(sorted(resolution.tables))}{hint}",
            column=column,
            suggestions=near,
            tables=sorted(resolution.tables),
        )
    except SqlglotError:
        return Decision.allow()  # the qualifier cannot follow this query; the warehouse will
    return Decision.allow()


def statements_for(dialect: str, project: str | None) -> Statements:
    return Statements(Dialect(dialect), project=project)


def parse_final(sql: str, dialect: str) -> exp.Query:
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Query)
    return tree
