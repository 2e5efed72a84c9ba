"""What the validation SQL measured, and what it means: cardinality, risk level, flags.

Risk follows the confidence (HIGH at 0.8 and above, MEDIUM from 0.5, LOW below); flags follow
the measured stats: more than 10% null join keys is a warning, more than 100 child rows for one
parent is explosive, and a many-to-many join is blocked (it multiplies rows on both sides).
Acceptance measures again and refuses when the numbers got worse than at discovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from policies.decisions import Decision, combine_all

HIGH = 0.8
MEDIUM = 0.5
NULL_WARNING_PCT = 10.0
EXPLOSIVE_FAN_OUT = 100
# Acceptance refuses when a stat moved this far the wrong way since discovery.
DEGRADED_ORPHAN_PTS = 1.0
DEGRADED_NULL_PTS = 5.0


class Cardinality(StrEnum):
    ONE_TO_ONE = "one_to_one"
    ONE_TO_MANY = "one_to_many"
    MANY_TO_MANY = "many_to_many"


class RiskLevel(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Flag(StrEnum):
    WARNING = "warning"  # many null join keys
    EXPLOSIVE = "explosive"  # one parent row meets very many child rows
    BLOCKED = "blocked"  # many-to-many: never accepted


@dataclass(frozen=True)
class JoinStats:
    """Counts from one validation query; the percentages and classes are derived here."""

    child_rows: int
    child_null_rows: int  # rows whose join key (any column of it) is null
    orphan_rows: int  # non-null child rows with no parent
    matched_rows: int
    child_keys: int  # distinct non-null child keys
    matched_keys: int  # distinct child keys found in the parent
    parent_keys: int  # distinct parent keys
    max_fan_out: int  # most child rows on one parent key
    max_parent_dup: int  # most parent rows on one key (1: the parent side is unique)
    samples: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def null_pct(self) -> float:
        return round(100 * self.child_null_rows / self.child_rows, 2) if self.child_rows else 0.0

    @property
    def orphan_pct(self) -> float:
        nonnull = self.child_rows - self.child_null_rows
        return round(100 * self.orphan_rows / nonnull, 2) if nonnull else 0.0

    @property
    def fan_out_avg(self) -> float:
        return round(self.matched_rows / self.matched_keys, 2) if self.matched_keys else 0.0

    @property
    def containment(self) -> float:
        return self.matched_keys / self.child_keys if self.child_keys else 0.0

    @property
    def cardinality(self) -> Cardinality:
        if self.max_parent_dup > 1 and self.max_fan_out > 1:
            return Cardinality.MANY_TO_MANY
        if self.max_fan_out > 1 or self.max_parent_dup > 1:
            return Cardinality.ONE_TO_MANY
        return Cardinality.ONE_TO_ONE

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["samples"] = [dict(s) for s in self.samples]
        out |= {
            "null_pct": self.null_pct,
            "orphan_pct": self.orphan_pct,
            "fan_out_avg": self.fan_out_avg,
            "cardinality": self.cardinality.value,
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JoinStats:
        names = [
            "child_rows",
            "child_null_rows",
            "orphan_rows",
            "matched_rows",
            "child_keys",
            "matched_keys",
            "parent_keys",
            "max_fan_out",
            "max_parent_dup",
        ]
        return cls(
            **{n: int(data[n]) for n in names},
            samples=tuple(dict(s) for s in data.get("samples", ())),
        )


def risk_level(confidence: float) -> RiskLevel:
    if confidence >= HIGH:
        return RiskLevel.HIGH
    if confidence >= MEDIUM:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def flags(stats: JoinStats) -> tuple[Flag, ...]:
    out: list[Flag] = []
    if stats.null_pct > NULL_WARNING_PCT:
        out.append(Flag.WARNING)
    if stats.max_fan_out > EXPLOSIVE_FAN_OUT:
        out.append(Flag.EXPLOSIVE)
    if stats.cardinality == Cardinality.MANY_TO_MANY:
        out.append(Flag.BLOCKED)
    return tuple(out)


# -- acceptance: the join must still be what was discovered ----------------------------------
@dataclass(frozen=True)
class Revalidation:
    discovered: JoinStats
    now: JoinStats


def not_many_to_many(r: Revalidation) -> Decision:
    if r.now.cardinality != Cardinality.MANY_TO_MANY:
        return Decision.allow()
    return Decision.block(
        "many_to_many",
        "the join is many-to-many now (both sides repeat keys): it would multiply rows, so it "
        "cannot be accepted",
        max_fan_out=r.now.max_fan_out,
        max_parent_dup=r.now.max_parent_dup,
    )


def _pct_not_grown(rule: str, what: str, discovered: float, now: float, slack: float) -> Decision:
    if now <= discovered + slack:
        return Decision.allow()
    return Decision.block(
        rule,
        f"{what} grew from {discovered}% to {now}% since discovery; run `spyne joins discover` "
        "again and review the new numbers",
        discovered=discovered,
        now=now,
    )


def orphans_not_grown(r: Revalidation) -> Decision:
    return _pct_not_grown(
        "orphans", "orphan rows", r.discovered.orphan_pct, r.now.orphan_pct, DEGRADED_ORPHAN_PTS
    )


def nulls_not_grown(r: Revalidation) -> Decision:
    return _pct_not_grown(
        "nulls", "null join keys", r.discovered.null_pct, r.now.null_pct, DEGRADED_NULL_PTS
    )


def fan_out_not_explosive(r: Revalidation) -> Decision:
    if r.now.max_fan_out <= max(EXPLOSIVE_FAN_OUT, r.discovered.max_fan_out):
        return Decision.allow()
    return Decision.block(
        "fan_out",
        f"the most child rows on one parent grew from {r.discovered.max_fan_out} to "
        f"{r.now.max_fan_out} (explosive above {EXPLOSIVE_FAN_OUT})",
        discovered=r.discovered.max_fan_out,
        now=r.now.max_fan_out,
    )


REVALIDATION_RULES = (not_many_to_many, orphans_not_grown, nulls_not_grown, fan_out_not_explosive)


def decide_revalidation(r: Revalidation) -> Decision:
    return combine_all(tuple(rule(r) for rule in REVALIDATION_RULES))
