"""How confident a join candidate is, and why: ordered rules over one pair's evidence.

Each rule adds points or caps the total and says so; the reason lists what they said. Names
and values must agree: value overlap alone is weak evidence (small integer keys overlap
everywhere), so without a name that points at the parent the confidence stays below 0.5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from policies.joins.names import NameEvidence

MIN_CONTAINMENT = 0.5  # below this share of child values in the parent, no candidate
MIN_SAMPLE = 8  # sampled child values needed before an estimate may prune a pair
OVERLAP_ALONE_CAP = 0.45
SMALL_VALUES_CAP = 0.3
SMALL_INTEGER = 1000
WEAK_NAME = 0.5


@dataclass(frozen=True)
class PairEvidence:
    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    name: NameEvidence
    containment: float | None  # share of child values in the parent; None: not known yet
    containment_exact: bool = False
    sample: int = 0  # sampled child values behind an estimate
    parent_uniqueness: float = 1.0
    range_fit: float | None = None  # share of the child's value range inside the parent's
    small_values: bool = False  # the parent's keys are small integers

    @property
    def key(self) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        return (self.child_table, self.child_columns, self.parent_table, self.parent_columns)

    def with_exact_containment(self, value: float) -> PairEvidence:
        return replace(self, containment=value, containment_exact=True)


@dataclass(frozen=True)
class Contribution:
    points: float
    text: str
    cap: float | None = None


@dataclass(frozen=True)
class Scored:
    evidence: PairEvidence
    confidence: float
    reason: str


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def name_rule(e: PairEvidence) -> Contribution:
    if e.name.score == 0:
        return Contribution(0.0, "no name evidence")
    return Contribution(0.35 * e.name.score, e.name.reason)


def containment_rule(e: PairEvidence) -> Contribution:
    if e.containment is None:
        return Contribution(0.0, "containment not measured")
    how = "measured" if e.containment_exact else f"estimated from {e.sample} sampled values"
    text = f"{_pct(e.containment)} of child values found in the parent ({how})"
    if e.containment < MIN_CONTAINMENT:
        return Contribution(0.45 * e.containment, text, cap=0.2)
    return Contribution(0.45 * e.containment, text)


def uniqueness_rule(e: PairEvidence) -> Contribution:
    text = (
        "parent key unique"
        if e.parent_uniqueness >= 1
        else (f"parent key {_pct(e.parent_uniqueness)} unique")
    )
    return Contribution(0.10 * min(e.parent_uniqueness, 1.0), text)


def range_rule(e: PairEvidence) -> Contribution:
    if e.range_fit is None:
        return Contribution(0.05, "value ranges not comparable")
    if e.range_fit >= 1:
        return Contribution(0.10, "child values within the parent's range")
    return Contribution(0.10 * e.range_fit, f"{_pct(e.range_fit)} of the child's range overlaps")


def overlap_alone_rule(e: PairEvidence) -> Contribution:
    if e.name.score >= WEAK_NAME:
        return Contribution(0.0, "")
    return Contribution(0.0, "value overlap alone is weak evidence", cap=OVERLAP_ALONE_CAP)


def small_values_rule(e: PairEvidence) -> Contribution:
    if not e.small_values or e.name.score >= WEAK_NAME:
        return Contribution(0.0, "")
    return Contribution(0.0, "small integers overlap everywhere", cap=SMALL_VALUES_CAP)


SCORE_RULES: tuple[Callable[[PairEvidence], Contribution], ...] = (
    name_rule,
    containment_rule,
    uniqueness_rule,
    range_rule,
    overlap_alone_rule,
    small_values_rule,
)


def score(e: PairEvidence) -> Scored:
    said = [rule(e) for rule in SCORE_RULES]
    total = sum(c.points for c in said)
    for c in said:
        if c.cap is not None:
            total = min(total, c.cap)
    confidence = round(max(0.0, min(1.0, total)), 3)
    return Scored(e, confidence, "; ".join(c.text for c in said if c.text))


def optimistic(e: PairEvidence) -> float:
    """The best confidence SQL validation could still give a pair whose containment is unknown."""
    if e.containment is not None:
        return score(e).confidence
    return score(replace(e, containment=1.0)).confidence
