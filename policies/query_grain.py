"""Mixed grains: an aggregate over a table whose rows a join repeats.

``SUM(o.amount)`` over ``orders o JOIN order_lines l ON l.order_id = o.id`` adds each order's
amount once per line: the join made the query's grain the line, and the orders' measure no
longer means what it says. That is true only when the other side's join key repeats, so the
rule asks for facts, never guesses: for each table (by the name the query writes), the column
sets known to be unique and those known to repeat (from stored profiles and accepted joins).
Without a fact about a join's key, nothing is said.

Read per SELECT: for each join between two tables of its FROM, by the equalities of the ON
condition, the rows of one side repeat when the other side's columns are known to repeat and
are not known unique. Then a SUM, AVG or COUNT (not DISTINCT; MIN and MAX are not changed by
repetition, and ``COUNT(*)`` counts the joined rows on purpose) reading a column of a repeated
side is a finding. Pure: the caller passes the tree and the facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

RULE = "mixed_grain"
_AFFECTED = (exp.Sum, exp.Avg, exp.Count)


@dataclass(frozen=True)
class KeyFacts:
    """Column sets (lower-case) of one table known unique, and known to repeat; and its columns,
    which place a column the query did not qualify."""

    unique: frozenset[frozenset[str]] = field(default_factory=frozenset)
    repeated: frozenset[frozenset[str]] = field(default_factory=frozenset)
    columns: frozenset[str] = field(default_factory=frozenset)

    def repeats(self, columns: frozenset[str]) -> bool:
        """True only when these columns are known to repeat and no unique subset is known."""
        if any(u <= columns for u in self.unique):
            return False
        return any(columns <= r for r in self.repeated)


@dataclass(frozen=True)
class GrainFinding:
    aggregate: str  # the aggregate as written, e.g. SUM(o.amount)
    table: str  # the table whose rows repeat, as written
    repeated_by: str  # the table whose key repeats
    key: tuple[str, ...]  # that key's columns

    @property
    def message(self) -> str:
        return (
            f"{self.aggregate} reads {self.table}, whose rows repeat once per matching "
            f"{self.repeated_by} row ({', '.join(self.key)} is not unique there), so it counts "
            f"each {self.table} value several times; aggregate {self.repeated_by} in a subquery "
            f"first, or use COUNT(DISTINCT ...), or execute with `--override {RULE}` if the "
            "repeated values are what you mean"
        )


def _written(table: exp.Table) -> str:
    return ".".join(p for p in (table.db, table.name) if p).lower()


def _facts(table: exp.Table, keys: Mapping[str, KeyFacts]) -> KeyFacts | None:
    found = keys.get(_written(table))
    return found if found is not None else keys.get(table.name.lower())


def _sources(select: exp.Select) -> dict[str, exp.Table]:
    """Alias (or name) -> table, for the tables the SELECT reads directly."""
    out: dict[str, exp.Table] = {}
    from_ = select.args.get("from_")
    nodes = [from_.this] if from_ is not None else []
    nodes += [j.this for j in select.args.get("joins") or ()]
    for node in nodes:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            out[node.alias_or_name.lower()] = node
    return out


def _side(
    column: exp.Column, sources: Mapping[str, exp.Table], keys: Mapping[str, KeyFacts]
) -> str | None:
    """The alias a column reads: its qualifier, or the one table that has a column so named."""
    if column.table:
        return column.table.lower()
    name = column.name.lower()
    owners = [
        alias
        for alias, table in sources.items()
        if name in (_facts(table, keys) or KeyFacts()).columns
    ]
    return owners[0] if len(owners) == 1 else None


def _equalities(condition: exp.Expr | None) -> list[tuple[exp.Column, exp.Column]]:
    if condition is None:
        return []
    return [
        (eq.this, eq.expression)
        for eq in condition.find_all(exp.EQ)
        if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Column)
    ]


def _repeated_sides(
    select: exp.Select, sources: Mapping[str, exp.Table], keys: Mapping[str, KeyFacts]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Alias whose rows repeat -> (the alias whose key repeats, that key)."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for join in select.args.get("joins") or ():
        pairs: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for a, b in _equalities(join.args.get("on")):
            left, right = _side(a, sources, keys), _side(b, sources, keys)
            if left is None or right is None or left not in sources or right not in sources:
                continue
            if left == right:
                continue
            columns = pairs.setdefault((left, right), (set(), set()))
            columns[0].add(a.name.lower())
            columns[1].add(b.name.lower())
        for (left, right), (left_cols, right_cols) in pairs.items():
            for side, other, other_cols in ((left, right, right_cols), (right, left, left_cols)):
                facts = _facts(sources[other], keys)
                if facts is not None and facts.repeats(frozenset(other_cols)):
                    out.setdefault(side, (other, tuple(sorted(other_cols))))
    return out


def mixed_grain(tree: exp.Expr, keys: Mapping[str, KeyFacts]) -> list[GrainFinding]:
    """Every aggregate that reads a side a join repeats (see the module docstring)."""
    findings: list[GrainFinding] = []
    if not keys:
        return findings
    for select in tree.find_all(exp.Select):
        sources = _sources(select)
        if len(sources) < 2:
            continue
        repeated = _repeated_sides(select, sources, keys)
        if not repeated:
            continue
        for projection in select.expressions:
            for aggregate in projection.find_all(*_AFFECTED):
                if aggregate.find_ancestor(exp.Select) is not select:
                    continue
                if isinstance(aggregate.this, exp.Distinct | exp.Star):
                    continue
                sides = {_side(c, sources, keys) for c in aggregate.find_all(exp.Column)}
                for side in sorted(s for s in sides if s in repeated):
                    other, key = repeated[side]
                    findings.append(
                        GrainFinding(
                            aggregate.sql(), _written(sources[side]), _written(sources[other]), key
                        )
                    )
    return findings
