"""What changed between two versions of a contract, how bad each change is, and what to migrate.

Columns are compared by the same drift rules that guard published tables (renames, widenings,
narrowings; :func:`policies.drift.compare_schemas`), with ``required`` as the opposite of
nullable. Semantics fields that change what a bronze row means (mode, key, event-time and
processing-time column) are BREAKING; the others (freshness, dedupe window, conflicts, owner)
are listed without a severity. The migration guide names, for each change, the dbt models that
read the changed column (the caller gives them, from the manifest's lineage) and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.contract_versions import BREAKING_SEMANTICS
from policies.drift import ChangeKind, Column, DriftSeverity, SchemaChange, compare_schemas

# Semantics fields listed when they change, beyond the breaking ones.
OTHER_SEMANTICS = (
    "conflict_resolution",
    "dedupe_window_s",
    "freshness",
    "owner",
    "unsafe_allow_processing_time",
)
ALL_MODELS = "*"  # key of the readers mapping: every model reading the table


@dataclass(frozen=True)
class ContractChange:
    what: str  # a column, or "semantics.<field>"
    description: str
    severity: DriftSeverity
    columns: tuple[str, ...]  # the columns a reader has to look at (empty: the whole table)
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "kind": self.kind,
            "description": self.description,
            "severity": self.severity.name,
        }


@dataclass(frozen=True)
class GuideStep:
    change: str
    severity: DriftSeverity
    models: tuple[str, ...]
    action: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "severity": self.severity.name,
            "models": list(self.models),
            "action": self.action,
        }


def _columns(columns: Sequence[Mapping[str, Any]]) -> list[Column]:
    return [Column(str(c["name"]), str(c["type"]), not bool(c["required"])) for c in columns]


def _touched(change: SchemaChange) -> tuple[str, ...]:
    if change.kind == ChangeKind.COLUMN_RENAMED and change.before:
        return (change.before, change.column)
    return (change.column,)


def diff_contracts(
    before_columns: Sequence[Mapping[str, Any]],
    after_columns: Sequence[Mapping[str, Any]],
    before_summary: Mapping[str, Any],
    after_summary: Mapping[str, Any],
) -> tuple[DriftSeverity, tuple[ContractChange, ...]]:
    """The changes from one version to the other (columns: name, type, required) and the
    severity of the worst."""
    report = compare_schemas(_columns(before_columns), _columns(after_columns))
    changes = [
        ContractChange(
            c.column if c.kind != ChangeKind.COLUMN_RENAMED else f"{c.before} -> {c.column}",
            c.describe(),
            c.severity,
            _touched(c),
            c.kind.value,
        )
        for c in report.changes
        if c.severity > DriftSeverity.NONE or c.kind == ChangeKind.NULLABILITY_TIGHTENED
    ]
    for key in (*BREAKING_SEMANTICS, *OTHER_SEMANTICS):
        old, new = before_summary.get(key), after_summary.get(key)
        if old == new:
            continue
        changes.append(
            ContractChange(
                f"semantics.{key}",
                f"{key} changed from {old!r} to {new!r}",
                DriftSeverity.BREAKING if key in BREAKING_SEMANTICS else DriftSeverity.NONE,
                (),
                "semantics_changed",
            )
        )
    worst = max((c.severity for c in changes), default=DriftSeverity.NONE)
    return worst, tuple(changes)


_ACTIONS = {
    ChangeKind.COLUMN_ADDED.value: "nothing to change; models may start reading it",
    ChangeKind.COLUMN_REMOVED.value: "stop reading {columns}",
    ChangeKind.COLUMN_RENAMED.value: "read {new} instead of {old}",
    ChangeKind.TYPE_WIDENED.value: "check casts, comparisons and arithmetic on {columns}",
    ChangeKind.TYPE_CHANGED.value: "cast or rework every use of {columns}",
    ChangeKind.NULLABILITY_RELAXED.value: "handle NULL in {columns} (coalesce, filters, tests)",
    ChangeKind.NULLABILITY_TIGHTENED.value: "nothing to change; {columns} is never NULL now",
    ChangeKind.COLUMN_REORDERED.value: "nothing to change unless a model selects by position",
    "semantics_changed": "review every model reading the table: what one bronze row means changed",
}


def migration_guide(
    changes: Sequence[ContractChange], readers: Mapping[str, Sequence[str]]
) -> tuple[GuideStep, ...]:
    """One step per change: the models to look at and what to do there. ``readers`` maps a
    column to the models whose SQL reads it, and ``"*"`` to every model reading the table."""
    steps = []
    for change in changes:
        if change.kind == "semantics_changed" and change.severity == DriftSeverity.NONE:
            models: tuple[str, ...] = ()
            action = "nothing to change in the models"
        else:
            if change.columns:
                found = {m for column in change.columns for m in readers.get(column, ())}
            else:
                found = set(readers.get(ALL_MODELS, ()))
            models = tuple(sorted(found))
            action = _ACTIONS[change.kind].format(
                columns=", ".join(change.columns),
                old=change.columns[0] if change.columns else "",
                new=change.columns[-1] if change.columns else "",
            )
        steps.append(GuideStep(change.description, change.severity, models, action))
    return tuple(steps)
