"""The query policy: the organisation's limits on ad-hoc queries.

Values come from ``policies/defaults/query.yaml`` (overridable per install in
``$SPYNE_HOME/policies/query.yaml``); this model validates them, so a typo is refused by name
instead of silently loosening a limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.errors import SpyneError, ValidationFailed
from policies.naming import parse_table_ref

_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


class SafetyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default_limit: int = Field(default=10_000, ge=1, strict=True)
    large_table_rows: int = Field(default=1_000_000, ge=1, strict=True)
    max_join_depth: int = Field(default=5, ge=0, strict=True)
    max_subquery_depth: int = Field(default=3, ge=0, strict=True)
    # Cost: what one query may scan before a person approves it, the organisation's hourly
    # budget (a sliding window), and the price used to say what a query costs.
    max_query_bytes: int = Field(default=10 * 1000**3, ge=1, strict=True)
    hourly_budget_bytes: int = Field(default=100 * 1000**3, ge=1, strict=True)
    price_per_tb: float = Field(default=6.25, ge=0)
    # Previews: how long a preview id may be executed.
    preview_ttl_minutes: int = Field(default=15, ge=1, strict=True)
    # Guardrails: when a join is explosive.
    max_join_fanout: float = Field(default=1_000.0, gt=0)
    max_result_rows: int = Field(default=10_000_000, ge=1, strict=True)
    # Tables marked partitioned (``layer.table`` -> the columns it is partitioned on): a query
    # must filter one of those columns where it reads the table, whatever its size. An empty
    # list means any of the table's date/time columns will do.
    partitioned_tables: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("partitioned_tables")
    @classmethod
    def _known_names(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for table, columns in value.items():
            try:
                canonical = parse_table_ref(table.lower()).canonical
            except SpyneError as exc:
                raise ValueError(exc.args[0]) from None
            wrong = [c for c in columns if not _COLUMN.match(c.lower())]
            if wrong:
                raise ValueError(f"{table}: {wrong[0]!r} is not a column name")
            out[canonical] = tuple(c.lower() for c in columns)
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SafetyPolicy:
        """Validate parsed YAML; a refusal names the first bad field."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                f"the query policy must be a mapping of limits; got {type(data).__name__}",
                details={"field": None},
            )
        try:
            return cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            name = ".".join(str(part) for part in first["loc"])
            raise ValidationFailed(
                f"query policy field {name!r} is invalid: {first['msg']}",
                details={"field": name},
            ) from None
