"""Layer and table naming: where a table's versions live and what users call it.

``<layer>.<table>`` is the canonical name, a view over the ACTIVE version.
``<layer>__shadow.<table>__v<N>`` is version N, written once and never changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from policies.errors import ValidationFailed

SHADOW_SUFFIX = "__shadow"
# Versions are numbered 1, 2, ...; the catalog stores them as 32-bit integers.
MAX_VERSION = 2**31 - 1
VERSION_SEPARATOR = "__v"
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSIONED = re.compile(r"^(?P<table>[a-z][a-z0-9_]*?)__v(?P<version>[1-9][0-9]*)$")


class Layer(StrEnum):
    """Medallion layers in build order; a model reads only from layers before its own."""

    BRONZE = "bronze"
    SILVER = "silver"
    JOINS = "joins"
    GOLD = "gold"

    @property
    def rank(self) -> int:
        return list(Layer).index(self)


def validate_identifier(value: str, what: str = "table name") -> str:
    if not _IDENT.match(value) or "__" in value:
        raise ValidationFailed(
            f"{what} {value!r} is not valid: use lowercase letters, digits and single "
            "underscores, starting with a letter",
            details={"value": value, "field": what},
        )
    return value


def parse_layer(value: str) -> Layer:
    try:
        return Layer(value)
    except ValueError:
        raise ValidationFailed(
            f"unknown layer {value!r}; expected one of {', '.join(layer.value for layer in Layer)}",
            details={"value": value, "allowed": [layer.value for layer in Layer]},
        ) from None


@dataclass(frozen=True, order=True)
class TableRef:
    layer: Layer
    name: str

    @property
    def canonical(self) -> str:
        return f"{self.layer.value}.{self.name}"

    @property
    def shadow_schema(self) -> str:
        return shadow_schema(self.layer)

    def version_identifier(self, version: int) -> str:
        return version_identifier(self.name, version)

    def __str__(self) -> str:
        return self.canonical


def shadow_schema(layer: Layer) -> str:
    return f"{layer.value}{SHADOW_SUFFIX}"


def checked_version(version: int, what: str = "version") -> int:
    """A version number people may type: 1 to MAX_VERSION (bigger numbers were never built)."""
    if not 1 <= version <= MAX_VERSION:
        raise ValidationFailed(
            f"{what} must be between 1 and {MAX_VERSION}, got {version}",
            details={"field": what, "value": version},
        )
    return version


def version_identifier(table: str, version: int) -> str:
    return f"{table}{VERSION_SEPARATOR}{checked_version(version)}"


def parse_version_identifier(identifier: str) -> tuple[str, int] | None:
    """``customers__v7`` -> ``("customers", 7)``; anything else -> None."""
    m = _VERSIONED.match(identifier)
    if not m or "__" in m.group("table"):
        # A table name never holds "__", so "a__b__v1" is not a version of anything.
        return None
    return m.group("table"), int(m.group("version"))


def parse_table_ref(value: str) -> TableRef:
    """Parse ``layer.table`` (the only form users type)."""
    parts = value.strip().split(".")
    if len(parts) != 2:
        raise ValidationFailed(
            f"table {value!r} must be written as <layer>.<table>, e.g. silver.customers",
            details={"value": value},
        )
    layer = parse_layer(parts[0])
    return TableRef(layer, validate_identifier(parts[1]))
