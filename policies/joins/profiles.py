"""The facts a profile holds about a column, and the type families join candidates are blocked by.

A sketch is a coordinated hash sample: every value whose hash falls below ``rate`` of the hash
space is kept, with the same hash function for every column of a warehouse. Two sketches cut to
the smaller of their two rates sample the same part of the hash space, so the share of one
sample found in the other estimates containment without joining the columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HASH_SPACE = 2**64  # hashes are unsigned 64-bit (BigQuery's signed ones are shifted on reading)
SKETCH_SIZE = 128  # distinct values a sketch aims to hold
NEAR_UNIQUE = 0.99  # distinct / non-null at or above this: a key candidate
MAX_KEY_NULL_FRACTION = 0.01


class TypeFamily(StrEnum):
    INTEGER = "integer"
    STRING = "string"
    DECIMAL = "decimal"
    FLOAT = "float"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"
    OTHER = "other"


# Families whose values can be join keys; others are never profiled for containment.
KEY_FAMILIES = frozenset({TypeFamily.INTEGER, TypeFamily.STRING})

_PREFIXES: tuple[tuple[str, TypeFamily], ...] = (
    ("TINYINT", TypeFamily.INTEGER),
    ("SMALLINT", TypeFamily.INTEGER),
    ("INTEGER", TypeFamily.INTEGER),
    ("BIGINT", TypeFamily.INTEGER),
    ("HUGEINT", TypeFamily.INTEGER),
    ("UBIGINT", TypeFamily.INTEGER),
    ("UINTEGER", TypeFamily.INTEGER),
    ("USMALLINT", TypeFamily.INTEGER),
    ("UTINYINT", TypeFamily.INTEGER),
    ("INT64", TypeFamily.INTEGER),
    ("INT", TypeFamily.INTEGER),
    ("VARCHAR", TypeFamily.STRING),
    ("STRING", TypeFamily.STRING),
    ("TEXT", TypeFamily.STRING),
    ("UUID", TypeFamily.STRING),
    ("DECIMAL", TypeFamily.DECIMAL),
    ("NUMERIC", TypeFamily.DECIMAL),
    ("BIGNUMERIC", TypeFamily.DECIMAL),
    ("DOUBLE", TypeFamily.FLOAT),
    ("FLOAT", TypeFamily.FLOAT),
    ("REAL", TypeFamily.FLOAT),
    ("DATETIME", TypeFamily.TIMESTAMP),
    ("TIMESTAMP", TypeFamily.TIMESTAMP),
    ("DATE", TypeFamily.DATE),
    ("BOOL", TypeFamily.BOOLEAN),
)


def type_family(data_type: str) -> TypeFamily:
    """DuckDB's and BigQuery's type names, folded into the families joins compare."""
    upper = data_type.strip().upper()
    for prefix, family in _PREFIXES:
        if upper.startswith(prefix):
            return family
    return TypeFamily.OTHER


def sketch_rate(distinct: int, size: int = SKETCH_SIZE) -> float:
    """The share of the hash space to sample so that about ``size`` values are kept."""
    return 1.0 if distinct <= size else size / distinct


@dataclass(frozen=True)
class Sketch:
    rate: float
    hashes: frozenset[int]

    @property
    def threshold(self) -> int:
        return int(self.rate * HASH_SPACE)

    def below(self, threshold: int) -> frozenset[int]:
        if threshold >= self.threshold:
            return self.hashes
        return frozenset(h for h in self.hashes if h < threshold)


def containment(child: Sketch, parent: Sketch) -> tuple[float | None, int]:
    """Estimated share of the child's distinct values found in the parent, and the sample size.

    None when the two samples share no part of the hash space holding a child value.
    """
    threshold = min(child.threshold, parent.threshold)
    sample = child.below(threshold)
    if not sample:
        return None, 0
    found = len(sample & parent.hashes)
    return found / len(sample), len(sample)


Scalar = int | float | str | None


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    data_type: str
    non_null: int
    distinct: int
    distinct_exact: bool
    min_value: Scalar = None
    max_value: Scalar = None
    sketch: Sketch | None = None

    @property
    def family(self) -> TypeFamily:
        return type_family(self.data_type)

    @property
    def key_like(self) -> bool:
        return self.family in KEY_FAMILIES and self.non_null > 0

    def uniqueness(self) -> float:
        return self.distinct / self.non_null if self.non_null else 0.0


@dataclass(frozen=True)
class TableProfile:
    table: str
    version: int | None
    row_count: int
    columns: tuple[ColumnProfile, ...]
    # Two-column keys: unique together, looked for only where no single column is unique.
    composite_keys: tuple[tuple[str, str], ...] = field(default=())

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    def null_fraction(self, column: ColumnProfile) -> float:
        return 1 - column.non_null / self.row_count if self.row_count else 0.0

    def is_key(self, column: ColumnProfile) -> bool:
        """Unique (or nearly, when counted approximately) and almost never null."""
        if not column.key_like or column.non_null < 2:
            return False
        if self.null_fraction(column) > MAX_KEY_NULL_FRACTION:
            return False
        if column.distinct_exact:
            return column.distinct == column.non_null
        return column.uniqueness() >= NEAR_UNIQUE

    def has_single_key(self) -> bool:
        """A unique column named like a key (a unique measure does not make a key)."""
        from policies.joins.names import key_named

        return any(self.is_key(c) and key_named(c.name) for c in self.columns)

    # -- storage --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "row_count": self.row_count,
            "composite_keys": [list(k) for k in self.composite_keys],
            "columns": [
                {
                    "name": c.name,
                    "data_type": c.data_type,
                    "non_null": c.non_null,
                    "distinct": c.distinct,
                    "distinct_exact": c.distinct_exact,
                    "min": c.min_value,
                    "max": c.max_value,
                    "sketch": None
                    if c.sketch is None
                    else {"rate": c.sketch.rate, "hashes": sorted(c.sketch.hashes)},
                }
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableProfile:
        def sketch(raw: Mapping[str, Any] | None) -> Sketch | None:
            if raw is None:
                return None
            return Sketch(float(raw["rate"]), frozenset(int(h) for h in raw["hashes"]))

        columns: Sequence[Mapping[str, Any]] = data["columns"]
        return cls(
            table=str(data["table"]),
            version=data.get("version"),
            row_count=int(data["row_count"]),
            composite_keys=tuple((str(a), str(b)) for a, b in data.get("composite_keys", [])),
            columns=tuple(
                ColumnProfile(
                    name=str(c["name"]),
                    data_type=str(c["data_type"]),
                    non_null=int(c["non_null"]),
                    distinct=int(c["distinct"]),
                    distinct_exact=bool(c["distinct_exact"]),
                    min_value=c.get("min"),
                    max_value=c.get("max"),
                    sketch=sketch(c.get("sketch")),
                )
                for c in columns
            ),
        )
