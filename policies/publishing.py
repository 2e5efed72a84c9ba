"""The publishing policy: per-table settings for automatic publishing and retention.

Values come from ``policies/defaults/publishing.yaml`` (overridable per install in
``$SPYNE_HOME/policies/publishing.yaml``); this model validates them. It is the one source of
whether a table publishes automatically: nothing else (no catalog column, no flag) decides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.errors import ValidationFailed
from policies.naming import parse_table_ref


class TableOverride(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_publish: bool | None = Field(default=None, strict=True)
    retention_hours: int | None = Field(default=None, ge=1, strict=True)
    max_row_drop: float | None = Field(default=None, ge=0, le=1, strict=True)


class PublishingPolicy(BaseModel):
    """Defaults for every table plus per-table overrides keyed by canonical name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retention_hours: int = Field(default=24, ge=1, strict=True)
    auto_publish: bool = Field(default=True, strict=True)
    # Fraction of the ACTIVE version's rows a new version may lose and still pass its gate.
    max_row_drop: float = Field(default=0.5, ge=0, le=1, strict=True)
    tables: dict[str, TableOverride] = Field(default_factory=dict)

    @field_validator("tables", mode="before")
    @classmethod
    def _empty_tables(cls, value: object) -> object:
        """``tables:`` with every entry commented out parses as None: no overrides."""
        return {} if value is None else value

    @field_validator("tables")
    @classmethod
    def _canonical_keys(cls, tables: dict[str, TableOverride]) -> dict[str, TableOverride]:
        out: dict[str, TableOverride] = {}
        for key, override in tables.items():
            try:
                canonical = parse_table_ref(key).canonical
            except ValidationFailed as exc:
                raise ValueError(exc.message) from None
            if canonical in out:
                raise ValueError(f"table {canonical!r} is listed twice")
            out[canonical] = override
        return out

    def _override(self, table: str) -> TableOverride | None:
        return self.tables.get(parse_table_ref(table).canonical)

    def auto_publish_for(self, table: str) -> bool:
        override = self._override(table)
        if override is not None and override.auto_publish is not None:
            return override.auto_publish
        return self.auto_publish

    def retention_for(self, table: str) -> timedelta:
        override = self._override(table)
        if override is not None and override.retention_hours is not None:
            return timedelta(hours=override.retention_hours)
        return timedelta(hours=self.retention_hours)

    def max_row_drop_for(self, table: str) -> float:
        override = self._override(table)
        if override is not None and override.max_row_drop is not None:
            return override.max_row_drop
        return self.max_row_drop

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PublishingPolicy:
        """Validate parsed YAML; a refusal names the first bad field."""
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                "the publishing policy must be a mapping with retention_hours, auto_publish "
                f"and tables; got {type(data).__name__}",
                details={"field": None},
            )
        try:
            return cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False)
            first = errors[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ValidationFailed(
                f"publishing policy field {field!r} is invalid: {_message(first['msg'])}",
                details={
                    "field": field,
                    "errors": [
                        {"field": ".".join(str(p) for p in e["loc"]), "message": _message(e["msg"])}
                        for e in errors
                    ],
                },
            ) from None


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")
