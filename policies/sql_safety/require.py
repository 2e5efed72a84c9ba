"""Require rules: what a query must carry before it runs without a person's approval.

A large or partitioned table needs a time filter where it is read; joins and subqueries have a
depth the organisation's policy bounds. Table facts come from the catalog; with none (``spyne
query validate`` without platform state) the time-filter rule has nothing to require.
"""

from __future__ import annotations

from sqlglot import exp

from policies.sql_safety.model import NOTHING, Finding, Query, TableFacts, approval, block

# BigQuery's pseudo-columns of ingestion-time partitioned tables.
_PARTITION_PSEUDO = ("_partitiontime", "_partitiondate")


def _needs_time_filter(facts: TableFacts, threshold: int) -> str | None:
    if facts.partitioned:
        return "is partitioned"
    if facts.row_count is not None and facts.row_count > threshold:
        return f"has {facts.row_count:,} rows (over {threshold:,})"
    return None


def _filters_on(select: exp.Select, table: exp.Table, columns: tuple[str, ...]) -> bool:
    """Whether the WHERE of the select reading ``table`` constrains one of ``columns``."""
    where = select.args.get("where")
    if where is None:
        return False
    names = {c.lower() for c in columns}
    qualifiers = {table.alias_or_name.lower(), table.name.lower()}
    for column in where.find_all(exp.Column):
        qualifier = column.table.lower()
        if qualifier and qualifier not in qualifiers:
            continue
        if not names or column.name.lower() in names:
            return True
    return False


def time_filter(query: Query) -> tuple[Finding, ...]:
    if not query.facts.tables:
        return NOTHING
    findings: list[Finding] = []
    seen: set[str] = set()
    for table in query.nodes(exp.Table):
        facts = query.facts.for_table(table)
        if facts is None:
            continue
        why = _needs_time_filter(facts, query.policy.large_table_rows)
        name = ".".join(p for p in (table.db, table.name) if p)
        if why is None or name in seen:
            continue
        columns = facts.time_columns
        if query.dialect == "bigquery" and facts.partitioned:
            columns = (*columns, *_PARTITION_PSEUDO)
        select = table.find_ancestor(exp.Select)
        if select is not None and _filters_on(select, table, columns):
            continue
        seen.add(name)
        wanted = f"one of its time columns ({', '.join(columns)})" if columns else "a filter"
        findings.extend(
            approval(
                "time_filter",
                f"{name} {why}: add a WHERE condition on {wanted} where it is read, "
                "or ask for approval to scan all of it",
                table=name,
                time_columns=list(columns),
            )
        )
    return tuple(findings)


def join_depth(query: Query) -> tuple[Finding, ...]:
    limit = query.policy.max_join_depth
    deepest = max((len(s.args.get("joins") or ()) for s in query.nodes(exp.Select)), default=0)
    if deepest <= limit:
        return NOTHING
    return approval(
        "join_depth",
        f"one SELECT joins {deepest} tables to its first (the policy allows {limit}); "
        "split the query or ask for approval",
        joins=deepest,
        max_join_depth=limit,
    )


def _select_depth(select: exp.Select) -> int:
    depth = 0
    node = select.parent
    while node is not None:
        if isinstance(node, exp.Select):
            depth += 1
        node = node.parent
    return depth


def subquery_nesting(query: Query) -> tuple[Finding, ...]:
    limit = query.policy.max_subquery_depth
    deepest = max((_select_depth(s) for s in query.nodes(exp.Select)), default=0)
    if deepest <= limit:
        return NOTHING
    return approval(
        "subquery_nesting",
        f"subqueries are nested {deepest} deep (the policy allows {limit}); "
        "flatten them into CTEs or ask for approval",
        depth=deepest,
        max_subquery_depth=limit,
    )


_OUTSIDE = (exp.AggFunc, exp.Filter, exp.WithinGroup, exp.Window, exp.Subquery, exp.Select)


def _group_keys(select: exp.Select) -> list[exp.Expr] | None:
    group = select.args.get("group")
    if group is None:
        return []
    if group.args.get("all"):
        return None  # GROUP BY ALL groups by every plain column: nothing is ambiguous
    keys: list[exp.Expr] = []
    projections = select.expressions
    for key in group.expressions:
        if isinstance(key, exp.Literal) and key.is_int and 0 < int(key.this) <= len(projections):
            keys.append(projections[int(key.this) - 1].unalias())
            continue
        named = next((p for p in projections if p.alias and p.alias == key.name), None)
        keys.append(named.unalias() if named is not None and isinstance(key, exp.Column) else key)
    return keys


def _aggregated(select: exp.Select) -> bool:
    return any(
        isinstance(n, exp.AggFunc)
        for p in select.expressions
        for n in p.walk(prune=lambda n: isinstance(n, exp.Window | exp.Subquery | exp.Select))
    )


def ambiguous_aggregation(query: Query) -> tuple[Finding, ...]:
    """A column that is neither grouped nor aggregated: which value of it did the person mean?"""
    if not query.nodes(exp.Group) and not query.nodes(exp.AggFunc):
        return NOTHING
    for select in query.nodes(exp.Select):
        keys = _group_keys(select)
        if keys is None or (not keys and not _aggregated(select)):
            continue
        names = {k.name.lower() for k in keys if isinstance(k, exp.Column)}
        for projection in select.expressions:
            value = projection.unalias()
            if any(value == k for k in keys):
                continue
            for node in value.walk(prune=lambda n: isinstance(n, _OUTSIDE)):
                if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
                    if node.name.lower() in names or any(node == k for k in keys):
                        continue
                    return block(
                        "ambiguous_aggregation",
                        f"{node.sql(dialect=query.dialect)} is neither grouped nor aggregated, so "
                        "each group would show one of its values at random: add it to GROUP BY, "
                        f"or say which value you mean (e.g. max({node.sql(dialect=query.dialect)}))",
                        column=node.sql(dialect=query.dialect),
                    )
    return NOTHING
