"""Rename detection: a column that disappeared and one that appeared may be the same column.

Reporting a rename as a removal plus an addition hides what happened and what to do (point the
readers at the new name). A pair of (removed, added) columns is weighed by ordered rules sharing
one signature: a rule may veto the pair (different types, value samples that do not overlap) or
add evidence (a similar name, the same position, highly overlapping values). A pair is a rename
when nothing vetoes it and its evidence reaches :data:`RENAME_THRESHOLD`; each column takes part
in at most one rename, the strongest first. A name alone is enough; a position alone is not, it
needs overlapping values too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

RENAME_THRESHOLD = 1.0
SIMILAR_NAME = 0.6  # SequenceMatcher ratio from which names count as similar
OVERLAP_HIGH = 0.8  # share of distinct sampled values in common that supports a rename
OVERLAP_LOW = 0.5  # below this the two columns hold different data: not a rename


@dataclass(frozen=True)
class ValueSamples:
    """Distinct values sampled from each side, keyed by lower-cased column name."""

    before: Mapping[str, Collection[object]] = field(default_factory=dict)
    after: Mapping[str, Collection[object]] = field(default_factory=dict)


@dataclass(frozen=True)
class RenameFacts:
    before_name: str
    after_name: str
    before_position: int  # 1-based
    after_position: int
    same_type: bool
    before_values: frozenset[object] | None = None
    after_values: frozenset[object] | None = None


VETO = None
Rule = Callable[[RenameFacts], float | None]  # None vetoes the pair, a number is evidence


def _key(name: str) -> str:
    return name.lower().replace("_", "")


def name_similarity(a: str, b: str) -> float:
    """0..1; a name that extends the other (``email`` -> ``email_address``) counts as similar."""
    ka, kb = _key(a), _key(b)
    short, long = sorted((ka, kb), key=len)
    if len(short) >= 3 and long.startswith(short):
        return max(SIMILAR_NAME, SequenceMatcher(None, ka, kb).ratio())
    return SequenceMatcher(None, ka, kb).ratio()


def overlap(a: frozenset[object], b: frozenset[object]) -> float:
    """Jaccard similarity of two sets of sampled values (two empty samples say nothing)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def same_type_required(f: RenameFacts) -> float | None:
    return 0.0 if f.same_type else VETO


def values_must_overlap(f: RenameFacts) -> float | None:
    if f.before_values is None or f.after_values is None:
        return 0.0
    share = overlap(f.before_values, f.after_values)
    if share < OVERLAP_LOW:
        return VETO
    return 0.5 if share >= OVERLAP_HIGH else 0.0


def similar_name(f: RenameFacts) -> float | None:
    return 1.0 if name_similarity(f.before_name, f.after_name) >= SIMILAR_NAME else 0.0


def same_position(f: RenameFacts) -> float | None:
    return 0.5 if f.before_position == f.after_position else 0.0


RENAME_RULES: tuple[Rule, ...] = (
    same_type_required,
    values_must_overlap,
    similar_name,
    same_position,
)


def weigh(facts: RenameFacts, rules: Sequence[Rule] = RENAME_RULES) -> float | None:
    """The pair's evidence, or None when a rule vetoes it."""
    total = 0.0
    for rule in rules:
        evidence = rule(facts)
        if evidence is None:
            return None
        total += evidence
    return total


def match_renames(
    candidates: Sequence[RenameFacts], rules: Sequence[Rule] = RENAME_RULES
) -> list[RenameFacts]:
    """The renames among every (removed, added) pair: strongest first, each column once."""
    scored = []
    for facts in candidates:
        evidence = weigh(facts, rules)
        if evidence is not None and evidence >= RENAME_THRESHOLD:
            distance = abs(facts.before_position - facts.after_position)
            scored.append((-evidence, distance, facts.after_position, facts))
    scored.sort(key=lambda item: item[:3])
    taken_before: set[str] = set()
    taken_after: set[str] = set()
    out = []
    for *_, facts in scored:
        b, a = facts.before_name.lower(), facts.after_name.lower()
        if b in taken_before or a in taken_after:
            continue
        taken_before.add(b)
        taken_after.add(a)
        out.append(facts)
    return out
