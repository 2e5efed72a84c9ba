"""Which column pairs are worth scoring: blocking, so cost grows with columns, not their square.

Pairs are looked for within one layer (schema). Parents are keys (unique columns; two-column
keys where a table has no single one). A child
column meets only the parents its name points at (an index on table words) and, when the
caller asks for confidences low enough for value overlap alone, the parents its sketch shares
hashes with (an inverted index on sampled hashes). Pairs of different type families, with
disjoint value ranges, or whose distinct counts make the needed containment impossible are
pruned before any estimate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from policies.joins.names import NameEvidence, entity, name_evidence, table_words
from policies.joins.profiles import ColumnProfile, TableProfile, TypeFamily, containment
from policies.joins.scoring import (
    MIN_CONTAINMENT,
    MIN_SAMPLE,
    OVERLAP_ALONE_CAP,
    SMALL_INTEGER,
    PairEvidence,
)

COMPOSITE_NAME_SCORE = 0.8


@dataclass(frozen=True)
class _Parent:
    table: TableProfile
    column: ColumnProfile


def _name_keys(words: Sequence[str]) -> set[str]:
    if not words:
        return set()
    joined = "".join(words)
    return {joined, words[-1], joined[:3], words[-1][:3]}


def _parent_keys(p: _Parent) -> set[str]:
    keys = _name_keys(table_words(p.table.table)) | _name_keys(entity(p.column.name))
    parts = p.column.name.lower().split("_", 1)
    if len(parts) == 2 and len(parts[0]) <= 2:
        keys.add(parts[1])
    return keys


def _child_keys(column: str) -> set[str]:
    keys = _name_keys(entity(column))
    parts = column.lower().split("_", 1)
    if len(parts) == 2 and len(parts[0]) <= 2:
        keys.add(parts[1])
    return keys


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def range_fit(child: ColumnProfile, parent: ColumnProfile) -> float | None:
    """Share of the child's value range inside the parent's; 0 when disjoint, None if unknown."""
    cmin, cmax, pmin, pmax = child.min_value, child.max_value, parent.min_value, parent.max_value
    if cmin is None or cmax is None or pmin is None or pmax is None:
        return None
    numbers = [_number(v) for v in (cmin, cmax, pmin, pmax)]
    if all(n is not None for n in numbers):
        a, b, c, d = (float(n) for n in numbers if n is not None)
        if b < c or a > d:
            return 0.0
        if b == a:
            return 1.0
        return (min(b, d) - max(a, c)) / (b - a)
    s = [str(v) for v in (cmin, cmax, pmin, pmax)]
    if s[1] < s[2] or s[0] > s[3]:
        return 0.0
    return 1.0 if s[0] >= s[2] and s[1] <= s[3] else 0.5


def _small(parent: ColumnProfile) -> bool:
    top = _number(parent.max_value)
    return parent.family == TypeFamily.INTEGER and top is not None and abs(top) <= SMALL_INTEGER


def same_layer(child_table: str, parent_table: str) -> bool:
    """Joins are proposed within one layer (schema): across layers a key is lineage, not a join
    to review (gold.revenue.customer_id comes from silver.customers)."""
    return child_table.rpartition(".")[0] == parent_table.rpartition(".")[0]


def _evidence(child_table: TableProfile, child: ColumnProfile, p: _Parent) -> PairEvidence | None:
    parent = p.column
    if child.family != parent.family or not same_layer(child_table.table, p.table.table):
        return None
    if child_table.table == p.table.table and child.name == parent.name:
        return None
    if child.distinct and parent.distinct / child.distinct < MIN_CONTAINMENT:
        return None  # too many distinct child values for half of them to be in the parent
    fit = range_fit(child, parent)
    if fit == 0.0:
        return None
    estimate, sample = (None, 0)
    if child.sketch is not None and parent.sketch is not None:
        estimate, sample = containment(child.sketch, parent.sketch)
    if estimate is not None and sample >= MIN_SAMPLE and estimate < MIN_CONTAINMENT:
        return None
    if sample < MIN_SAMPLE:
        estimate = None  # too few sampled values to say; validation measures it
    name = name_evidence(child_table.table, child.name, p.table.table, parent.name)
    return PairEvidence(
        child_table=child_table.table,
        child_columns=(child.name,),
        parent_table=p.table.table,
        parent_columns=(parent.name,),
        name=name,
        containment=estimate,
        sample=sample,
        parent_uniqueness=min(parent.uniqueness(), 1.0),
        range_fit=fit,
        small_values=_small(parent),
    )


def single_column_pairs(
    profiles: Sequence[TableProfile], *, min_confidence: float
) -> list[PairEvidence]:
    """Every surviving (child column, parent key) pair, each once."""
    parents = [_Parent(t, c) for t in profiles for c in t.columns if t.is_key(c)]
    by_name: dict[str, list[int]] = defaultdict(list)
    by_hash: dict[tuple[TypeFamily, int], list[int]] = defaultdict(list)
    values_alone = min_confidence <= OVERLAP_ALONE_CAP
    for i, p in enumerate(parents):
        for key in _parent_keys(p):
            by_name[key].append(i)
        if values_alone and p.column.sketch is not None:
            for h in p.column.sketch.hashes:
                by_hash[(p.column.family, h)].append(i)
    out: list[PairEvidence] = []
    for table in profiles:
        for column in table.columns:
            if not column.key_like:
                continue
            met: set[int] = set()
            for key in _child_keys(column.name):
                met.update(by_name.get(key, ()))
            if values_alone and column.sketch is not None:
                for h in column.sketch.hashes:
                    met.update(by_hash.get((column.family, h), ()))
            for i in sorted(met):
                found = _evidence(table, column, parents[i])
                if found is not None:
                    out.append(found)
    return out


def _same_key(child: str, parent: str) -> bool:
    if child == parent:
        return True
    c, p = child.split("_", 1), parent.split("_", 1)
    return len(c) == 2 and len(p) == 2 and len(c[0]) <= 2 and len(p[0]) <= 2 and c[1] == p[1]


def composite_pairs(profiles: Sequence[TableProfile]) -> list[PairEvidence]:
    """Children holding both columns of a parent's two-column key, under the same names."""
    by_rest: dict[str, list[tuple[TableProfile, ColumnProfile]]] = defaultdict(list)
    for table in profiles:
        for column in table.columns:
            if column.key_like:
                by_rest[_rest(column.name)].append((table, column))
    out: list[PairEvidence] = []
    for parent in profiles:
        for a, b in parent.composite_keys:
            pa, pb = parent.column(a), parent.column(b)
            for child, ca in by_rest.get(_rest(a), []):
                if child.table == parent.table or not _same_key(ca.name, a):
                    continue
                if not same_layer(child.table, parent.table):
                    continue
                cb = next((c for c in child.columns if c.key_like and _same_key(c.name, b)), None)
                if cb is None or ca.family != pa.family or cb.family != pb.family:
                    continue
                fits = [range_fit(ca, pa), range_fit(cb, pb)]
                if 0.0 in fits:
                    continue
                known = [f for f in fits if f is not None]
                out.append(
                    PairEvidence(
                        child_table=child.table,
                        child_columns=(ca.name, cb.name),
                        parent_table=parent.table,
                        parent_columns=(a, b),
                        name=NameEvidence(
                            COMPOSITE_NAME_SCORE,
                            f"{ca.name}, {cb.name} name {parent.table}'s two-column key",
                        ),
                        containment=None,
                        range_fit=min(known) if known else None,
                    )
                )
    return out


def _rest(column: str) -> str:
    parts = column.lower().split("_", 1)
    return parts[1] if len(parts) == 2 and len(parts[0]) <= 2 else column.lower()


def candidate_pairs(
    profiles: Sequence[TableProfile], *, min_confidence: float
) -> list[PairEvidence]:
    pairs = single_column_pairs(profiles, min_confidence=min_confidence)
    return pairs + composite_pairs(profiles)


def affinity(child_table: str, parent_table: str) -> int:
    """How near two tables are by name: same schema and first word 2, same schema 1, else 0."""
    cs, _, cn = child_table.rpartition(".")
    ps, _, pn = parent_table.rpartition(".")
    if cs != ps:
        return 0
    return 2 if cn.split("_", 1)[0] == pn.split("_", 1)[0] else 1


def best_per_child(
    entries: Sequence[tuple[PairEvidence, float]], keep: int
) -> list[tuple[PairEvidence, float]]:
    """The ``keep`` best parents of each child column set: a foreign key points at one parent.

    Ranked by confidence, then by table affinity (the lookup table of the same module wins
    over an identical one elsewhere), then by name for a stable order.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[PairEvidence, float]]] = defaultdict(list)
    for e, confidence in entries:
        groups[(e.child_table, e.child_columns)].append((e, confidence))
    out: list[tuple[PairEvidence, float]] = []
    for group in groups.values():
        group.sort(
            key=lambda item: (
                -item[1],
                -affinity(item[0].child_table, item[0].parent_table),
                item[0].parent_table,
                item[0].parent_columns,
            )
        )
        out += group[:keep]
    return out


def drop_reversed(
    entries: Sequence[tuple[PairEvidence, float]],
) -> list[tuple[PairEvidence, float]]:
    """Of a pair found in both directions (1:1 keys), keep the better one: the contained side."""
    best = {e.key: confidence for e, confidence in entries}
    out = []
    for e, confidence in entries:
        reverse = (e.parent_table, e.parent_columns, e.child_table, e.child_columns)
        if reverse in best and (best[reverse], reverse) > (confidence, e.key):
            continue
        out.append((e, confidence))
    return out
