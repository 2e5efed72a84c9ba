"""Corrections to a previewed query, made on its sqlglot tree (never on its text).

Each correction names what it changes the way the preview showed it (a joined table, a filter,
a metric); a name that matches nothing is refused with what there is to choose from. The
corrected query goes through the whole gate again as a new preview.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from policies.errors import ValidationFailed

JOIN_TYPES = ("inner", "left", "right", "full")


@dataclass(frozen=True)
class Correction:
    kind: str  # set_join_type | add_filter | remove_filter | swap_metric
    value: str


def _main(tree: exp.Expr) -> exp.Select:
    node = tree
    while isinstance(node, exp.Subquery | exp.SetOperation):
        node = node.this
    if not isinstance(node, exp.Select):
        raise ValidationFailed("only a SELECT can be corrected", details={"statement": node.key})
    return node


def _expression(text: str, dialect: str, what: str) -> exp.Expr:
    try:
        parsed = sqlglot.parse_one(text, read=dialect)
    except SqlglotError:
        raise ValidationFailed(
            f"{what} {text!r} is not a SQL expression", details={"value": text}
        ) from None
    if isinstance(parsed, exp.Query) or parsed.find(exp.Query) is not None:
        raise ValidationFailed(
            f"{what} {text!r} must be an expression, not a query", details={"value": text}
        )
    if not isinstance(parsed, exp.Condition):
        raise ValidationFailed(f"{what} {text!r} is not a SQL expression", details={"value": text})
    return parsed


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition]


def set_join_type(tree: exp.Expr, value: str, dialect: str) -> None:
    target, _, kind = value.partition("=")
    kind = kind.strip().lower()
    if kind not in JOIN_TYPES:
        raise ValidationFailed(
            f"--set-join-type wants TABLE=TYPE with TYPE one of {', '.join(JOIN_TYPES)}",
            details={"value": value},
        )
    joins = _main(tree).args.get("joins") or []
    names = []
    for join in joins:
        table = join.this
        candidates = {table.alias_or_name.lower(), table.name.lower()}
        if isinstance(table, exp.Table) and table.db:
            candidates.add(f"{table.db}.{table.name}".lower())
        names.append(table.alias_or_name)
        if target.strip().lower() in candidates:
            join.set("side", None if kind == "inner" else kind.upper())
            join.set("kind", "INNER" if kind == "inner" else None)
            return
    raise ValidationFailed(
        f"the query joins no table {target!r}; joined: {', '.join(names) or 'none'}",
        details={"value": value, "joined": names},
    )


def add_filter(tree: exp.Expr, value: str, dialect: str) -> None:
    condition = _expression(value, dialect, "filter")
    _main(tree).where(condition, append=True, copy=False)


def remove_filter(tree: exp.Expr, value: str, dialect: str) -> None:
    select = _main(tree)
    where = select.args.get("where")
    wanted = _expression(value, dialect, "filter")
    kept = [c for c in _conjuncts(where.this if where else None) if c != wanted]
    present = _conjuncts(where.this if where else None)
    if len(kept) == len(present):
        shown = [c.sql(dialect=dialect) for c in present]
        raise ValidationFailed(
            f"the query has no filter {value!r}; its filters: {'; '.join(shown) or 'none'}",
            details={"value": value, "filters": shown},
        )
    select.set("where", None)
    for condition in kept:
        select.where(condition, append=True, copy=False)


def swap_metric(tree: exp.Expr, value: str, dialect: str) -> None:
    old_text, sep, new_text = value.partition("=")
    if not sep:
        raise ValidationFailed(
            "--swap-metric wants OLD=NEW, e.g. 'sum(amount)=avg(amount)'", details={"value": value}
        )
    old = _expression(old_text, dialect, "metric")
    new = _expression(new_text, dialect, "metric")
    if not isinstance(new, exp.AggFunc):
        raise ValidationFailed(
            f"the new metric {new_text!r} must be an aggregate (sum, avg, count, min, max ...)",
            details={"value": value},
        )
    found = [a for a in tree.find_all(exp.AggFunc) if a == old]
    if not found:
        metrics = sorted({a.sql(dialect=dialect) for a in _main(tree).find_all(exp.AggFunc)})
        raise ValidationFailed(
            f"the query computes no {old_text.strip()!r}; its metrics: {', '.join(metrics) or 'none'}",
            details={"value": value, "metrics": metrics},
        )
    for node in found:
        node.replace(new.copy())


EDITS = {
    "set_join_type": set_join_type,
    "add_filter": add_filter,
    "remove_filter": remove_filter,
    "swap_metric": swap_metric,
}


def correct(sql: str, dialect: str, corrections: list[Correction]) -> str:
    """The corrected query's SQL, rendered from the edited tree."""
    if not corrections:
        raise ValidationFailed(
            "say what to correct: --set-join-type, --add-filter, --remove-filter or --swap-metric",
            details={},
        )
    tree = sqlglot.parse_one(sql, read=dialect)
    for c in corrections:
        EDITS[c.kind](tree, c.value, dialect)
    return tree.sql(dialect=dialect)
