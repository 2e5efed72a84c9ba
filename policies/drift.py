"""Schema drift: how a candidate version's columns differ from the ACTIVE version's.

The drift check on a shadow asset asks :func:`compare_schemas` and the publisher
refuses a BREAKING report. Types are compared after normalising the DuckDB and
BigQuery spellings, so ``INT64`` vs ``BIGINT`` or ``STRING`` vs ``VARCHAR`` is not
drift at all, while a real narrowing is. When a type is not understood the only
safe answer is that any change to it may break readers (principle 7).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

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


# --- type normalisation -------------------------------------------------------------------

# name -> (bits, signed). DuckDB spellings plus BigQuery's INT64.
_INTEGERS: dict[str, tuple[int, bool]] = {
    "TINYINT": (8, True),
    "INT1": (8, True),
    "SMALLINT": (16, True),
    "INT2": (16, True),
    "SHORT": (16, True),
    "INTEGER": (32, True),
    "INT": (32, True),
    "INT4": (32, True),
    "SIGNED": (32, True),
    "BIGINT": (64, True),
    "INT8": (64, True),
    "INT64": (64, True),
    "LONG": (64, True),
    "HUGEINT": (128, True),
    "INT128": (128, True),
    "UTINYINT": (8, False),
    "USMALLINT": (16, False),
    "UINTEGER": (32, False),
    "UBIGINT": (64, False),
    "UHUGEINT": (128, False),
}
# Decimal digits needed to hold every value of an integer type.
_INTEGER_DIGITS: dict[tuple[int, bool], int] = {
    (8, True): 3,
    (16, True): 5,
    (32, True): 10,
    (64, True): 19,
    (128, True): 39,
    (8, False): 3,
    (16, False): 5,
    (32, False): 10,
    (64, False): 20,
    (128, False): 39,
}
# FLOAT is DuckDB's 4-byte float (BigQuery reports FLOAT64, never bare FLOAT).
_FLOATS: dict[str, int] = {
    "FLOAT": 32,
    "FLOAT4": 32,
    "REAL": 32,
    "DOUBLE": 64,
    "DOUBLE PRECISION": 64,
    "FLOAT8": 64,
    "FLOAT64": 64,
}
# Unparameterised decimals take their engine's default: DECIMAL is DuckDB's (18,3),
# NUMERIC/BIGNUMERIC are what BigQuery reports without parameters.
_DECIMALS: dict[str, tuple[int, int]] = {
    "DECIMAL": (18, 3),
    "DEC": (18, 3),
    "NUMERIC": (38, 9),
    "BIGNUMERIC": (76, 38),
    "BIGDECIMAL": (76, 38),
}
_STRINGS = frozenset(
    {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "NVARCHAR", "CHARACTER VARYING", "CHARACTER"}
)
_SIMPLE: dict[str, str] = {
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
}

_TYPE = re.compile(r"^(?P<base>[A-Z][A-Z0-9_]*(?: [A-Z][A-Z0-9_]*)*)(?:\((?P<args>[^()]*)\))?$")


@dataclass(frozen=True)
class _Type:
    """A normalised type: ``family`` plus the parameters that matter for widening."""

    family: str  # integer | float | decimal | string | BOOLEAN | DATE | TIMESTAMP | ... | opaque
    bits: int = 0
    signed: bool = True
    precision: int = 0
    scale: int = 0
    length: int | None = None  # strings: None is unbounded
    text: str = ""  # opaque types compare by their normalised spelling


def _spelling(raw: str) -> str:
    text = " ".join(raw.strip().upper().split())
    return re.sub(r"\s*([(),])\s*", r"\1", text)


def _normalise(raw: str) -> _Type:
    text = _spelling(raw)
    m = _TYPE.match(text)
    if not m:
        return _Type("opaque", text=text)
    base, args_text = m.group("base"), m.group("args")
    try:
        args = [int(a) for a in args_text.split(",")] if args_text else []
    except ValueError:
        return _Type("opaque", text=text)

    if base in _INTEGERS and not args:
        bits, signed = _INTEGERS[base]
        return _Type("integer", bits=bits, signed=signed)
    if base in _FLOATS and not args:
        return _Type("float", bits=_FLOATS[base])
    if base in _DECIMALS and len(args) <= 2:
        precision, scale = _DECIMALS[base]
        if args:
            precision, scale = args[0], (args[1] if len(args) == 2 else 0)
        return _Type("decimal", precision=precision, scale=scale)
    if base in _STRINGS and len(args) <= 1:
        return _Type("string", length=args[0] if args else None)
    if base in _SIMPLE and not args:
        return _Type(_SIMPLE[base])
    return _Type("opaque", text=text)


def _type_change(before: _Type, after: _Type) -> tuple[ChangeKind, DriftSeverity] | None:
    """None when the types are the same; otherwise how the change reads and how bad it is."""
    if before == after:
        return None
    widened = ChangeKind.TYPE_WIDENED
    if before.family == after.family == "integer":
        if before.signed == after.signed and after.bits >= before.bits:
            return widened, DriftSeverity.ADDITIVE
        if not before.signed and after.signed and after.bits > before.bits:
            return widened, DriftSeverity.ADDITIVE
    elif before.family == after.family == "float":
        if after.bits >= before.bits:
            return widened, DriftSeverity.ADDITIVE
    elif before.family == after.family == "decimal":
        if after.scale >= before.scale and (
            after.precision - after.scale >= before.precision - before.scale
        ):
            return widened, DriftSeverity.ADDITIVE
    elif before.family == after.family == "string":
        if after.length is None or (before.length is not None and after.length >= before.length):
            return widened, DriftSeverity.ADDITIVE
    elif before.family == "integer" and after.family == "decimal":
        if after.precision - after.scale >= _INTEGER_DIGITS[(before.bits, before.signed)]:
            return widened, DriftSeverity.ADDITIVE
    elif before.family == "integer" and after.family == "float" and after.bits == 64:
        # Every value still fits, but large integers lose precision.
        return widened, DriftSeverity.WARNING
    elif before.family == "DATE" and after.family == "TIMESTAMP":
        # Readers comparing with dates now see midnight timestamps.
        return widened, DriftSeverity.WARNING
    return ChangeKind.TYPE_CHANGED, DriftSeverity.BREAKING


def is_same_type(a: str, b: str) -> bool:
    """True when two spellings name the same type (``INT64`` and ``BIGINT``)."""
    return _normalise(a) == _normalise(b)


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


def _reorders(active: Sequence[Column], candidate: Sequence[Column]) -> list[SchemaChange]:
    """Columns kept by both whose relative order changed (positions are 1-based)."""
    candidate_keys = {c.name.lower() for c in candidate}
    active_keys = {c.name.lower() for c in active}
    old = [c.name.lower() for c in active if c.name.lower() in candidate_keys]
    new = [c.name.lower() for c in candidate if c.name.lower() in active_keys]
    if old == new:
        return []
    old_pos = {c.name.lower(): i for i, c in enumerate(active, start=1)}
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


def compare_schemas(active: Sequence[Column] | None, candidate: Sequence[Column]) -> DriftReport:
    """How ``candidate`` differs from ``active``; ``active`` None means a first version."""
    candidate_by_name = _index(candidate, "candidate")
    if active is None:
        return DriftReport(DriftSeverity.NONE)
    active_by_name = _index(active, "active")

    changes: list[SchemaChange] = [
        SchemaChange(
            ChangeKind.COLUMN_REMOVED, col.name, col.data_type, None, DriftSeverity.BREAKING
        )
        for key, col in active_by_name.items()
        if key not in candidate_by_name
    ]
    for key, new in candidate_by_name.items():
        old = active_by_name.get(key)
        if old is None:
            severity = DriftSeverity.ADDITIVE if new.nullable else DriftSeverity.WARNING
            changes.append(
                SchemaChange(ChangeKind.COLUMN_ADDED, new.name, None, new.data_type, severity)
            )
            continue
        type_change = _type_change(_normalise(old.data_type), _normalise(new.data_type))
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
                    ChangeKind.NULLABILITY_RELAXED,
                    new.name,
                    "NOT NULL",
                    "NULL",
                    DriftSeverity.ADDITIVE,
                )
            )
    changes.extend(_reorders(active, candidate))
    severity = max((c.severity for c in changes), default=DriftSeverity.NONE)
    return DriftReport(severity, tuple(changes))
