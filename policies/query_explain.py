"""What a query does, read off its sqlglot tree: tables, joins, filters, aggregations, and a
plain-English explanation that is the same every time for the same tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp


@dataclass(frozen=True)
class JoinInfo:
    kind: str  # inner, left, right, full, cross
    left: str
    right: str
    on: str | None


@dataclass(frozen=True)
class QueryShape:
    tables: tuple[str, ...]
    ctes: tuple[str, ...]
    joins: tuple[JoinInfo, ...]
    filters: tuple[str, ...]
    group_by: tuple[str, ...]
    aggregations: tuple[str, ...]
    order_by: tuple[str, ...]
    limit: int | None
    distinct: bool = False
    details: Mapping[str, str] = field(default_factory=dict)


def _name(table: exp.Table) -> str:
    return ".".join(p for p in (table.db, table.name) if p)


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this) if isinstance(condition.this, exp.And) else [condition]
    return [condition]


def _main_select(tree: exp.Expr) -> exp.Select | None:
    node = tree
    while isinstance(node, exp.Subquery):
        node = node.this
    if isinstance(node, exp.SetOperation):
        left = node.this
        return _main_select(left)
    return node if isinstance(node, exp.Select) else None


def shape(tree: exp.Expr, dialect: str) -> QueryShape:
    ctes = tuple(cte.alias for cte in tree.find_all(exp.CTE))
    tables = tuple(
        dict.fromkeys(
            _name(t)
            for t in tree.find_all(exp.Table)
            if t.name and not (not t.db and t.name in ctes)
        )
    )
    select = _main_select(tree)
    if select is None:
        return QueryShape(tables, ctes, (), (), (), (), (), None)
    from_ = select.args.get("from_")
    first = from_.this if from_ is not None else None
    left = (
        _name(first)
        if isinstance(first, exp.Table)
        else (first.alias_or_name if first is not None else "")
    )
    joins = []
    for join in select.args.get("joins") or ():
        target = join.this
        right = _name(target) if isinstance(target, exp.Table) else target.alias_or_name
        side = (join.side or "").lower()
        kind = (join.kind or "").lower()
        on = join.args.get("on")
        label = side or ("cross" if kind == "cross" or on is None else "inner")
        joins.append(JoinInfo(label, left, right, on.sql(dialect=dialect) if on else None))
    aggregations = tuple(
        dict.fromkeys(
            agg.sql(dialect=dialect)
            for projection in select.expressions
            for agg in projection.find_all(exp.AggFunc)
            if not agg.find_ancestor(exp.Window, exp.Subquery)
        )
    )
    group = select.args.get("group")
    where = select.args.get("where")
    order = select.args.get("order")
    limit_node = select.args.get("limit") or tree.args.get("limit")
    limit = None
    if limit_node is not None:
        value = limit_node.expression
        if isinstance(value, exp.Literal) and value.is_int:
            limit = int(value.this)
    return QueryShape(
        tables=tables,
        ctes=ctes,
        joins=tuple(joins),
        filters=tuple(c.sql(dialect=dialect) for c in _conjuncts(where.this if where else None)),
        group_by=tuple(g.sql(dialect=dialect) for g in (group.expressions if group else ())),
        aggregations=aggregations,
        order_by=tuple(o.sql(dialect=dialect) for o in (order.expressions if order else ())),
        limit=limit,
        distinct=select.args.get("distinct") is not None,
    )


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def explain(s: QueryShape, labels: Mapping[str, str] | None = None) -> str:
    """One paragraph; ``labels`` may describe tables (e.g. 'gold.orders (v2, 5,000 rows)')."""
    labels = labels or {}
    sentences = []
    if s.ctes:
        sentences.append(f"It first builds {len(s.ctes)} named step(s): {_and(list(s.ctes))}.")
    read = [labels.get(t, t) for t in s.tables]
    if read:
        sentences.append(f"It reads {_and(read)}.")
    for j in s.joins:
        how = {"cross": "every combination of rows of", "left": "all rows of", "inner": ""}.get(
            j.kind, ""
        )
        condition = f" where {j.on}" if j.on else ""
        if j.kind == "left":
            sentences.append(
                f"It keeps {how} {j.left} and adds matching rows of {j.right}{condition}."
            )
        elif j.kind == "cross":
            sentences.append(f"It pairs {how} {j.left} and {j.right}.")
        else:
            sentences.append(f"It joins {j.left} with {j.right} ({j.kind}){condition}.")
    if s.filters:
        sentences.append(f"It keeps only rows where {_and(list(s.filters))}.")
    if s.group_by:
        computed = f" and computes {_and(list(s.aggregations))} per group" if s.aggregations else ""
        sentences.append(f"It groups rows by {_and(list(s.group_by))}{computed}.")
    elif s.aggregations:
        sentences.append(f"It computes {_and(list(s.aggregations))} over all those rows.")
    if s.distinct:
        sentences.append("It removes duplicate rows.")
    if s.order_by:
        sentences.append(f"It sorts by {_and(list(s.order_by))}.")
    if s.limit is not None:
        sentences.append(f"It returns at most {s.limit:,} rows.")
    return " ".join(sentences) or "It computes a single row without reading any table."
