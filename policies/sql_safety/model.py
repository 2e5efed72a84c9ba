"""What every SQL safety rule sees (one parsed, indexed query) and what it says (findings).

A rule never parses: the engine parses the text once in the caller's dialect and indexes every
node of the tree by its class in one walk, so each rule asks the index for the nodes it cares
about instead of walking the tree again. That keeps the whole gate close to the cost of the
parse alone (see ``bench/sql_gate.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlglot import exp

from policies.decisions import Verdict
from policies.sql_safety.policy import SafetyPolicy

Dialect = Literal["duckdb", "postgres", "bigquery"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "postgres", "bigquery")

N = TypeVar("N", bound=exp.Expr)


@dataclass(frozen=True)
class TableFacts:
    """What the catalog knows about a table a query reads (none of it is needed to validate)."""

    partitioned: bool = False
    row_count: int | None = None
    time_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SafetyFacts:
    """Table facts keyed by lower-case name as a query may write it: ``layer.table`` or ``table``."""

    tables: Mapping[str, TableFacts] = field(default_factory=dict)

    def for_table(self, node: exp.Table) -> TableFacts | None:
        if not self.tables:
            return None
        name = node.name.lower()
        db = node.db.lower()
        if db:
            found = self.tables.get(f"{db}.{name}")
            if found is not None:
                return found
        return self.tables.get(name)


def marked_partitioned(tables: Mapping[str, tuple[str, ...]]) -> SafetyFacts:
    """The facts the query policy alone gives (no platform state): its partitioned tables, under
    the names a query may write them by (``layer.table`` or ``table``)."""
    out: dict[str, TableFacts] = {}
    for canonical, columns in tables.items():
        facts = TableFacts(partitioned=True, time_columns=columns)
        out[canonical] = facts
        out.setdefault(canonical.split(".", 1)[1], facts)
    return SafetyFacts(out)


@dataclass(frozen=True)
class Finding:
    """One rule's verdict about the query, with a sentence a person can act on.

    ALLOW findings are warnings. A REWRITE finding carries the change to make to the tree; the
    engine applies the changes only after every rule has read the unchanged tree.
    """

    verdict: Verdict
    rule: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    rewrite: Callable[[exp.Expr], exp.Expr] | None = field(default=None, compare=False)


@dataclass
class Query:
    """The statements of one request, parsed once, with every node indexed by class."""

    sql: str
    dialect: Dialect
    statements: tuple[exp.Expr, ...]
    policy: SafetyPolicy
    facts: SafetyFacts
    _by_class: dict[type[exp.Expr], list[exp.Expr]] = field(default_factory=dict, repr=False)
    _by_base: dict[type, list[Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def indexed(
        cls,
        sql: str,
        dialect: Dialect,
        statements: tuple[exp.Expr, ...],
        policy: SafetyPolicy,
        facts: SafetyFacts,
    ) -> Query:
        by_class: dict[type[exp.Expr], list[exp.Expr]] = {}
        for statement in statements:
            for node in statement.walk():
                kind = type(node)
                bucket = by_class.get(kind)
                if bucket is None:
                    by_class[kind] = [node]
                else:
                    bucket.append(node)
        return cls(sql, dialect, statements, policy, facts, by_class)

    @property
    def root(self) -> exp.Expr:
        return self.statements[0]

    @property
    def classes(self) -> Collection[type[exp.Expr]]:
        """The node classes the tree holds: a rule looking for any of many classes reads these."""
        return self._by_class.keys()

    def nodes(self, kind: type[N]) -> list[N]:
        """Every node that is a ``kind`` (subclasses included), in walk order per class."""
        if _is_leaf(kind):
            return self._by_class.get(kind, [])  # type: ignore[return-value]
        found = self._by_base.get(kind)
        if found is None:
            found = [
                node
                for node_class, bucket in self._by_class.items()
                if issubclass(node_class, kind)
                for node in bucket
            ]
            self._by_base[kind] = found
        return found


_LEAVES: dict[type, bool] = {}


def _is_leaf(kind: type) -> bool:
    leaf = _LEAVES.get(kind)
    if leaf is None:
        leaf = _LEAVES[kind] = not kind.__subclasses__()
    return leaf


Rule = Callable[[Query], tuple[Finding, ...]]
NOTHING: tuple[Finding, ...] = ()


def block(rule: str, message: str, **details: Any) -> tuple[Finding, ...]:
    return (Finding(Verdict.BLOCK, rule, message, details),)


def approval(rule: str, message: str, **details: Any) -> tuple[Finding, ...]:
    return (Finding(Verdict.REQUIRE_APPROVAL, rule, message, details),)


def shown(node: exp.Expr, limit: int = 60) -> str:
    """A short rendering of a node for messages (never the rows, only the query's own text)."""
    try:
        text = node.sql()
    except Exception:  # a node sqlglot cannot render back is still named by its class
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
