"""Alert routing: which channels hear about which kind of alert at which severity.

Values come from ``policies/defaults/alerts.yaml``, overridable per install in
``$SPYNE_HOME/policies/alerts.yaml``. Routes are tried in order and every route that matches
adds its channels; an alert no route matches goes to ``default_channels`` (the log file), so
nothing is ever raised and heard by no one. The condition key is what deduplicates alerts: an
open alert with the same key is the same condition and does not page twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.errors import ValidationFailed


class AlertKind(StrEnum):
    DRIFT = "drift"
    FRESHNESS = "freshness"
    GATE_FAILURE = "gate_failure"
    RUN_FAILURE = "run_failure"
    INGESTION_REFUSED = "ingestion_refused"


class AlertSeverity(IntEnum):
    """Ordered, so a route can ask for ``min_severity``."""

    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> AlertSeverity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.label for s in cls)
            raise ValidationFailed(
                f"unknown alert severity {value!r}; severities are: {allowed}",
                details={"severity": value},
            ) from None


class LogFileChannel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["log_file"]
    path: str = Field(default="alerts.log", min_length=1)  # relative to SPYNE_HOME


class WebhookChannel(BaseModel):
    """A JSON POST signed with HMAC-SHA256 of the body under a secret from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None
    secret_env: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


class SlackChannel(BaseModel):
    """A Slack incoming webhook; its URL is a secret, so it comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["slack"]
    url_env: str = Field(min_length=1)


Channel = Annotated[LogFileChannel | WebhookChannel | SlackChannel, Field(discriminator="type")]


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kinds: tuple[AlertKind, ...] = ()  # empty: every kind
    min_severity: AlertSeverity = AlertSeverity.INFO
    channels: tuple[str, ...] = Field(min_length=1)

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return AlertSeverity.parse(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None

    def matches(self, kind: AlertKind, severity: AlertSeverity) -> bool:
        return (not self.kinds or kind in self.kinds) and severity >= self.min_severity


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    attempts: int = Field(default=3, ge=1, le=10, strict=True)  # tries per delivery round
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)  # doubled after each failed try
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    retry_after_seconds: int = Field(default=60, ge=1, strict=True)  # a failed round waits this
    max_rounds: int = Field(default=20, ge=1, strict=True)  # then the delivery is given up
    # No new delivery starts after this many seconds of one pass: the rest stays due for the
    # next pass, so a slow receiver cannot hold a sensor tick past Dagster's evaluation timeout.
    budget_seconds: float = Field(default=20, gt=0, le=300)


class AlertPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channels: dict[str, Channel]
    routes: tuple[Route, ...] = ()
    default_channels: tuple[str, ...] = Field(default=("log",), min_length=1)
    delivery: Delivery = Delivery()

    @field_validator("routes", mode="before")
    @classmethod
    def _empty_routes(cls, value: object) -> object:
        return () if value is None else value

    @model_validator(mode="after")
    def _known_channels(self) -> AlertPolicy:
        named = [*self.default_channels, *(c for r in self.routes for c in r.channels)]
        unknown = sorted({c for c in named if c not in self.channels})
        if unknown:
            raise ValueError(f"routes name channels that are not defined: {', '.join(unknown)}")
        return self

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AlertPolicy:
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                "the alert policy must be a mapping with channels, routes and default_channels; "
                f"got {type(data).__name__}",
                details={"field": None},
            )
        try:
            return cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "(policy)"
            raise ValidationFailed(
                f"alert policy field {field!r} is invalid: "
                f"{first['msg'].removeprefix('Value error, ')}",
                details={"field": field},
            ) from None


def route(policy: AlertPolicy, kind: AlertKind, severity: AlertSeverity) -> tuple[str, ...]:
    """The channels an alert goes to, in route order, each once."""
    out: list[str] = []
    for r in policy.routes:
        if r.matches(kind, severity):
            out.extend(c for c in r.channels if c not in out)
    return tuple(out) or policy.default_channels


def condition_key(kind: AlertKind, subject: str) -> str:
    """What makes two alerts the same condition: the kind and what it is about."""
    return f"{kind.value}:{subject}"


def backoff(delivery: Delivery, attempt: int) -> float:
    """Seconds to wait after failed try ``attempt`` (1-based) before the next one."""
    return float(delivery.backoff_seconds * 2 ** (attempt - 1))
