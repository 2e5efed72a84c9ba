"""Schema drift: how a candidate version's columns differ from the ACTIVE version's.

The drift check on a shadow asset asks :func:`compare_schemas` and the publisher
refuses a BREAKING report; the source drift sensor asks the same function about a
source's live schema against the schema it is expected to have. Types are parsed by
sqlglot in the dialect each side was read from (:mod:`policies.drift_types`), so
BigQuery's ``INT64`` vs DuckDB's ``BIGINT`` is not drift at all, while a real narrowing
is; a removed column and an added one that look like the same column are reported as
one BREAKING rename (:mod:`policies.drift_renames`). When a type is not understood the
only safe answer is that any change to it may break readers (principle 7).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from policies.drift_lattice import DUCKDB, Widening
from policies.drift_renames import RENAME_RULES, RenameFacts, ValueSamples, match_renames
from policies.errors import ValidationFailed


class DriftSeverity(IntEnum):
    """Ordered: a report is as severe as its worst change."""

    NONE = 0
    ADDITIVE = 1
    WARNING = 2
    BREAKING = 3


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool = True


class ChangeKind(StrEnum):
    COLUMN_ADDED = "column_added"
    COLUMN_REMOVED = "column_removed"
    TYPE_WIDENED = "type_widened"
    TYPE_CHANGED = "type_changed"  # narrowed or incompatible
    NULLABILITY_RELAXED = "nullability_relaxed"
    NULLABILITY_TIGHTENED = "nullability_tightened"
    COLUMN_REORDERED = "column_reordered"
    COLUMN_RENAMED = "column_renamed"


@dataclass(frozen=True)
class SchemaChange:
    kind: ChangeKind
    column: str
    before: str | None
    after: str | None
    severity: DriftSeverity

    def describe(self) -> str:
        """A short phrase a person reads in a drift alert."""
        match self.kind:
            case ChangeKind.COLUMN_ADDED:
                # An added column is only more than ADDITIVE when it is NOT NULL.
                not_null = " NOT NULL" if self.severity > DriftSeverity.ADDITIVE else ""
                return f"column {self.column} added ({self.after}{not_null})"
            case ChangeKind.COLUMN_REMOVED:
                return f"column {self.column} removed (was {self.before})"
            case ChangeKind.TYPE_WIDENED:
                return f"column {self.column} widened from {self.before} to {self.after}"
            case ChangeKind.TYPE_CHANGED:
                return f"column {self.column} changed type from {self.before} to {self.after}"
            case ChangeKind.NULLABILITY_RELAXED:
                return f"column {self.column} now allows NULL"
            case ChangeKind.NULLABILITY_TIGHTENED:
                return f"column {self.column} is now NOT NULL"
            case ChangeKind.COLUMN_REORDERED:
                return f"column {self.column} moved from position {self.before} to {self.after}"
            case ChangeKind.COLUMN_RENAMED:
                return f"column {self.before} renamed to {self.after}"
        raise AssertionError(self.kind)  # pragma: no cover - exhaustive match

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "column": self.column,
            "before": self.before,
            "after": self.after,
            "severity": self.severity.name,
        }


_SUMMARY_LIMIT = 5


@dataclass(frozen=True)
class DriftReport:
    severity: DriftSeverity
    changes: tuple[SchemaChange, ...] = ()

    @property
    def breaking(self) -> bool:
        return self.severity == DriftSeverity.BREAKING

    def summary(self) -> str:
        """One line: the severity, then the worst changes first."""
        if not self.changes:
            return "no schema changes"
        ordered = sorted(self.changes, key=lambda c: -c.severity)
        shown = [c.describe() for c in ordered[:_SUMMARY_LIMIT]]
        hidden = len(ordered) - len(shown)
        if hidden:
            shown.append(f"and {hidden} more change{'s' if hidden > 1 else ''}")
        return f"{self.severity.name}: " + "; ".join(shown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.name,
            "breaking": self.breaking,
            "summary": self.summary(),
            "changes": [c.to_dict() for c in self.changes],
        }


# --- types --------------------------------------------------------------------------------

_SEVERITY_OF: dict[Widening, DriftSeverity] = {
    Widening.EXACT: DriftSeverity.ADDITIVE,
    Widening.LOSSY: DriftSeverity.WARNING,
    Widening.INCOMPATIBLE: DriftSeverity.BREAKING,
}


def _type_change(
    before: str, after: str, dialects: tuple[str, str]
) -> tuple[ChangeKind, DriftSeverity] | None:
    """None when the types are the same; otherwise how the change reads and how bad it is."""
    from policies.drift_types import parse_type, relate

    relation = relate(parse_type(before, dialects[0]), parse_type(after, dialects[1]))
    if relation == Widening.SAME:
        return None
    kind = ChangeKind.TYPE_CHANGED if relation == Widening.INCOMPATIBLE else ChangeKind.TYPE_WIDENED
    return kind, _SEVERITY_OF[relation]


def is_same_type(a: str, b: str, a_dialect: str = DUCKDB, b_dialect: str | None = None) -> bool:
    """True when two spellings name the same type (``INTEGER`` and ``INT4``)."""
    from policies.drift_types import same_type

    return same_type(a, b, a_dialect, b_dialect)


# --- comparison ---------------------------------------------------------------------------


def _index(columns: Sequence[Column], which: str) -> dict[str, Column]:
    out: dict[str, Column] = {}
    for column in columns:
        key = column.name.lower()
        if key in out:
            raise ValidationFailed(
                f"the {which} schema lists column {column.name!r} twice (names are "
                "case-insensitive); fix the model so each column appears once",
                details={"column": column.name, "schema": which},
            )
        out[key] = column
    return out


def _reorders(
    active: Sequence[Column], candidate: Sequence[Column], renamed: dict[str, str]
) -> list[SchemaChange]:
    """Columns kept by both (renamed ones under their new name) whose relative order changed."""
    old_names = [renamed.get(c.name.lower(), c.name.lower()) for c in active]
    candidate_keys = {c.name.lower() for c in candidate}
    active_keys = set(old_names)
    old = [k for k in old_names if k in candidate_keys]
    new = [c.name.lower() for c in candidate if c.name.lower() in active_keys]
    if old == new:
        return []
    old_pos = {k: i for i, k in enumerate(old_names, start=1)}
    new_pos = {c.name.lower(): (i, c.name) for i, c in enumerate(candidate, start=1)}
    return [
        SchemaChange(
            ChangeKind.COLUMN_REORDERED,
            new_pos[key][1],
            str(old_pos[key]),
            str(new_pos[key][0]),
            DriftSeverity.NONE,
        )
        for key, was in zip(new, old, strict=True)
        if key != was
    ]


def _renames(
    active: Sequence[Column],
    candidate: Sequence[Column],
    removed: set[str],
    added: set[str],
    dialects: tuple[str, str],
    samples: ValueSamples | None,
) -> list[RenameFacts]:
    if not removed or not added:
        return []
    before = [(i, c) for i, c in enumerate(active, start=1) if c.name.lower() in removed]
    after = [(i, c) for i, c in enumerate(candidate, start=1) if c.name.lower() in added]

    def lowered(side: Mapping[str, Collection[object]] | None) -> dict[str, frozenset[object]]:
        return {k.lower(): frozenset(v) for k, v in (side or {}).items()}

    before_values = lowered(samples.before if samples else None)
    after_values = lowered(samples.after if samples else None)

    pairs = [
        RenameFacts(
            old.name,
            new.name,
            i,
            j,
            is_same_type(old.data_type, new.data_type, *dialects),
            before_values.get(old.name.lower()),
            after_values.get(new.name.lower()),
        )
        for i, old in before
        for j, new in after
    ]
    return match_renames(pairs, RENAME_RULES)


def _column_changes(old: Column, new: Column, dialects: tuple[str, str]) -> list[SchemaChange]:
    """Type and nullability changes of one column kept (or renamed) between the two schemas."""
    changes = []
    type_change = _type_change(old.data_type, new.data_type, dialects)
    if type_change is not None:
        kind, severity = type_change
        changes.append(SchemaChange(kind, new.name, old.data_type, new.data_type, severity))
    if old.nullable and not new.nullable:
        changes.append(
            SchemaChange(
                ChangeKind.NULLABILITY_TIGHTENED,
                new.name,
                "NULL",
                "NOT NULL",
                DriftSeverity.WARNING,
            )
        )
    elif not old.nullable and new.nullable:
        changes.append(
            SchemaChange(
                ChangeKind.NULLABILITY_RELAXED, new.name, "NOT NULL", "NULL", DriftSeverity.ADDITIVE
            )
        )
    return changes


def compare_schemas(
    active: Sequence[Column] | None,
    candidate: Sequence[Column],
    *,
    dialect: str = DUCKDB,
    candidate_dialect: str | None = None,
    samples: ValueSamples | None = None,
) -> DriftReport:
    """How ``candidate`` differs from ``active``; ``active`` None means a first version.

    ``dialect`` is the engine ``active``'s types were read from, ``candidate_dialect`` the
    candidate's (the same by default); ``samples`` (distinct values per column) let a rename be
    told from a removal plus an addition with more confidence.
    """
    candidate_by_name = _index(candidate, "candidate")
    if active is None:
        return DriftReport(DriftSeverity.NONE)
    active_by_name = _index(active, "active")
    dialects = (dialect, candidate_dialect or dialect)

    removed = {k for k in active_by_name if k not in candidate_by_name}
    added = {k for k in candidate_by_name if k not in active_by_name}
    renames = _renames(active, candidate, removed, added, dialects, samples)
    renamed = {r.before_name.lower(): r.after_name.lower() for r in renames}
    renamed_to = {new: old for old, new in renamed.items()}

    changes: list[SchemaChange] = [
        SchemaChange(
            ChangeKind.COLUMN_REMOVED, col.name, col.data_type, None, DriftSeverity.BREAKING
        )
        for key, col in active_by_name.items()
        if key in removed and key not in renamed
    ]
    for key, new in candidate_by_name.items():
        if key in renamed_to:
            old = active_by_name[renamed_to[key]]
            changes.append(
                SchemaChange(
                    ChangeKind.COLUMN_RENAMED, new.name, old.name, new.name, DriftSeverity.BREAKING
                )
            )
            changes.extend(_column_changes(old, new, dialects))
            continue
        if key in added:
            severity = DriftSeverity.ADDITIVE if new.nullable else DriftSeverity.WARNING
            changes.append(
                SchemaChange(ChangeKind.COLUMN_ADDED, new.name, None, new.data_type, severity)
            )
            continue
        changes.extend(_column_changes(active_by_name[key], new, dialects))
    changes.extend(_reorders(active, candidate, renamed))
    severity = max((c.severity for c in changes), default=DriftSeverity.NONE)
    return DriftReport(severity, tuple(changes))
