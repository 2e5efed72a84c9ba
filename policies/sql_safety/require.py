"""Require rules: what a query must carry before it runs without a person's approval.

A large or partitioned table needs a time filter where it is read; joins and subqueries have a
depth the organisation's policy bounds. Table facts come from the catalog; with none (``spyne
query validate`` without platform state) the time-filter rule has nothing to require.
"""

from __future__ import annotations

from sqlglot import exp

from policies.sql_safety.model import NOTHING, Finding, Query, TableFacts, approval

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
