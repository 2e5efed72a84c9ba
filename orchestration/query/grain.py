"""What the catalog knows about the keys of the tables a query reads, for the mixed-grain rule.

Two sources, both already measured, so a preview sends no query for them: the ACTIVE accepted
joins (the parent's key is unique; the child's key repeats unless the join was one-to-one) and
the profiles join discovery stored for the versions the query reads (a column whose distinct
count is its non-null count is unique; one with clearly fewer distinct values repeats). A table
with neither says nothing, and the rule stays silent about it.
"""

from __future__ import annotations

from collections import defaultdict

from orchestration.catalog import Catalog
from orchestration.query.resolve import Resolution
from policies.joins.profiles import TableProfile
from policies.query_grain import KeyFacts

REPEATS_BELOW = 0.9  # distinct / non-null under this (approximate counts): the column repeats
ONE_TO_ONE = "one_to_one"


def _lower(columns: tuple[str, ...] | list[str]) -> frozenset[str]:
    return frozenset(c.lower() for c in columns)


def key_facts(catalog: Catalog, warehouse_kind: str, resolution: Resolution) -> dict[str, KeyFacts]:
    """Key facts under every name the query writes a table by (as the safety facts are)."""
    if len(resolution.tables) < 2:
        return {}  # no join between known tables: nothing can repeat
    unique: dict[str, set[frozenset[str]]] = defaultdict(set)
    repeated: dict[str, set[frozenset[str]]] = defaultdict(set)
    read = set(resolution.tables)
    for accepted in catalog.joins.accepted():
        if accepted.state != "ACTIVE":
            continue
        candidate = catalog.joins.get(accepted.candidate_id)
        if not {candidate.child_table, candidate.parent_table} & read:
            continue
        unique[candidate.parent_table].add(_lower(candidate.parent_columns))
        cardinality = (accepted.stats or candidate.stats).get("cardinality")
        if cardinality and cardinality != ONE_TO_ONE:
            repeated[candidate.child_table].add(_lower(candidate.child_columns))
    versions = [
        (r.resolved.table, r.resolved.version)
        for r in resolution.tables.values()
        if r.resolved.version is not None
    ]
    for (table, _), raw in catalog.joins.profiles(warehouse_kind, versions).items():
        profile = TableProfile.from_dict(raw)
        for column in profile.columns:
            if profile.is_key(column):
                unique[table].add(frozenset({column.name.lower()}))
            elif column.non_null > column.distinct > 0 and (
                column.distinct_exact or column.uniqueness() < REPEATS_BELOW
            ):
                repeated[table].add(frozenset({column.name.lower()}))
    out: dict[str, KeyFacts] = {}
    for node, request in resolution.requests:
        found = resolution.tables.get(request.canonical or "")
        if found is None:
            continue
        table = found.resolved.table
        columns = frozenset(
            str(c["name"]).lower() for c in (found.version.schema if found.version else ())
        )
        written = ".".join(p for p in (node.db, node.name) if p).lower()
        out[written] = KeyFacts(frozenset(unique[table]), frozenset(repeated[table]), columns)
    return out
