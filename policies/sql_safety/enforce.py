"""Enforce rules: changes Spyne makes to a query itself, said out loud as a rewrite."""

from __future__ import annotations

from sqlglot import exp

from policies.decisions import Verdict
from policies.sql_safety.model import NOTHING, Finding, Query

_NOT_THIS_LEVEL = (exp.Window, exp.Subquery, exp.Select, exp.SetOperation)


def _aggregates(select: exp.Select) -> bool:
    """One row per group (or one row): GROUP BY, HAVING, or an aggregate at this level."""
    if select.args.get("group") is not None or select.args.get("having") is not None:
        return True
    for projection in select.expressions:
        for node in projection.walk(prune=lambda n: isinstance(n, _NOT_THIS_LEVEL)):
            if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window):
                return True
    return False


def _returns_few_rows(query: exp.Expr) -> bool:
    if isinstance(query, exp.Select):
        return query.args.get("from_") is None or _aggregates(query)
    if isinstance(query, exp.SetOperation):
        return _returns_few_rows(query.this) and _returns_few_rows(query.expression)
    if isinstance(query, exp.Subquery):
        return _returns_few_rows(query.this)
    return False


def default_limit(query: Query) -> tuple[Finding, ...]:
    root = query.root
    if not isinstance(root, exp.Query):
        return NOTHING
    if root.args.get("limit") is not None or root.args.get("fetch") is not None:
        return NOTHING
    if _returns_few_rows(root):
        return NOTHING
    limit = query.policy.default_limit

    def add_limit(tree: exp.Expr) -> exp.Expr:
        assert isinstance(tree, exp.Query)
        return tree.limit(limit, copy=False)

    return (
        Finding(
            Verdict.REWRITE,
            "default_limit",
            f"the query returns rows without a LIMIT: LIMIT {limit:,} was added (the "
            "organisation's default); write your own LIMIT to choose another",
            {"limit": limit},
            add_limit,
        ),
    )
