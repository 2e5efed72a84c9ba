"""May this version be published (or rolled back, restored, deprecated)?

Publishing is a view swap, so it is cheap to do and cheap to undo; what makes it safe
is this gate. Each question is an ordered tuple of small rules sharing one signature
``(facts) -> Decision``; the answer combines them all, so a refusal lists every reason
at once instead of making a person fix them one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.decisions import Decision, Reason, combine_all
from policies.drift import DriftSeverity
from policies.errors import (
    ApprovalRequired,
    BreakingDrift,
    GateFailed,
    InvalidTransition,
    PermissionDenied,
    SpyneError,
    ValidationFailed,
)
from policies.lifecycle import TableState, Transition, decide_transition
from policies.naming import parse_table_ref
from policies.roles import Operation, Role, authorize, minimum_role


class GateStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


# --- the publishing policy (values from policies/defaults/publishing.yaml) ----------------


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


# --- shared helpers -------------------------------------------------------------------------


def _checked_table(table: str) -> str:
    return parse_table_ref(table).canonical


def _checked_version(value: int | None, what: str) -> None:
    if value is not None and value < 1:
        raise ValidationFailed(f"{what} must be 1 or more, got {value}", details={what: value})


def _about(decision: Decision, prefix: str, **details: Any) -> Decision:
    """Say which table and version a generic refusal (lifecycle, roles) is about."""
    return Decision(
        decision.verdict,
        tuple(
            Reason(r.rule, f"{prefix}: {r.message}", {**r.details, **details})
            for r in decision.reasons
        ),
    )


def _role_rule(role: Role | None, operation: Operation, prefix: str, **details: Any) -> Decision:
    if role is None:
        needed = minimum_role(operation)
        return Decision.block(
            "roles",
            f"{prefix}: {operation.value} needs an identity with the {needed.label} role; "
            "sign in or pass an API key",
            operation=operation.value,
            role=None,
            required_role=needed.label,
            **details,
        )
    return _about(authorize(role, operation), prefix, **details)


# --- publish --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishFacts:
    """What the publisher knows about one candidate version.

    ``explicit`` is True when an admin asked (CLI/API) and False for the automatic
    publisher at the end of a run, which has no role (``actor_role`` None).
    ``auto_publish`` is the policy's answer for this table
    (:meth:`PublishingPolicy.auto_publish_for`).
    """

    table: str
    table_state: TableState
    candidate_version: int
    active_version: int | None
    gate_status: GateStatus
    drift: DriftSeverity
    explicit: bool
    actor_role: Role | None
    auto_publish: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _checked_table(self.table))
        _checked_version(self.candidate_version, "candidate_version")
        _checked_version(self.active_version, "active_version")

    @property
    def subject(self) -> str:
        return f"{self.table} v{self.candidate_version}"

    @property
    def ids(self) -> dict[str, Any]:
        return {"table": self.table, "version": self.candidate_version}


def publish_lifecycle(facts: PublishFacts) -> Decision:
    return _about(
        decide_transition(facts.table_state, Transition.PROMOTE),
        facts.subject,
        **facts.ids,
    )


def publish_role(facts: PublishFacts) -> Decision:
    if not facts.explicit:
        return Decision.allow()  # the automatic publisher; the approval rule bounds it
    return _role_rule(facts.actor_role, Operation.PROMOTE, facts.subject, **facts.ids)


def publish_already_active(facts: PublishFacts) -> Decision:
    active = facts.active_version
    if active is None or facts.candidate_version > active:
        return Decision.allow()
    if facts.candidate_version == active:
        return Decision.block(
            "already_active",
            f"{facts.subject} is already the active version; nothing to publish",
            active_version=active,
            **facts.ids,
        )
    return Decision.block(
        "already_active",
        f"{facts.subject} is older than the active v{active}; to go back to it, roll back "
        f"instead: spyne tables rollback {facts.table} --to-version {facts.candidate_version}",
        active_version=active,
        **facts.ids,
    )


def publish_gates(facts: PublishFacts) -> Decision:
    if facts.gate_status == GateStatus.PASSED:
        return Decision.allow()
    if facts.gate_status == GateStatus.FAILED:
        return Decision.block(
            "gates",
            f"gates failed for {facts.subject}; the active version is unchanged. Fix the "
            "data or the model, rebuild, and publish the new version",
            gate_status=facts.gate_status.value,
            **facts.ids,
        )
    return Decision.block(
        "gates",
        f"the gates have not run for {facts.subject}; run the gates first (materialize "
        "the shadow asset with its checks), then publish",
        gate_status=facts.gate_status.value,
        **facts.ids,
    )


def publish_drift(facts: PublishFacts) -> Decision:
    if facts.drift < DriftSeverity.BREAKING:
        return Decision.allow()
    against = f"v{facts.active_version}" if facts.active_version else "the active version"
    return Decision.block(
        "drift",
        f"{facts.subject} has BREAKING schema drift against {against} (a column removed, "
        "renamed or narrowed); keep the existing columns and types in the model, or "
        "publish the new shape as a new table",
        drift=facts.drift.name,
        **facts.ids,
    )


def publish_approval(facts: PublishFacts) -> Decision:
    if facts.explicit:
        return Decision.allow()
    if facts.table_state == TableState.SHADOW:
        return Decision.require_approval(
            "approval",
            f"{facts.subject} was not published: the first promotion of a table is an "
            f"explicit admin action: spyne tables promote {facts.table}",
            **facts.ids,
        )
    if not facts.auto_publish:
        return Decision.require_approval(
            "approval",
            f"{facts.subject} was not published: automatic publishing is off for "
            f"{facts.table}; an admin can publish it with: spyne tables promote {facts.table}",
            **facts.ids,
        )
    return Decision.allow()


PUBLISH_RULES: tuple[Callable[[PublishFacts], Decision], ...] = (
    publish_lifecycle,
    publish_role,
    publish_already_active,
    publish_gates,
    publish_drift,
    publish_approval,
)


def decide_publish(facts: PublishFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in PUBLISH_RULES))


# --- rollback, restore, deprecate -----------------------------------------------------------


@dataclass(frozen=True)
class RollbackFacts:
    table: str
    table_state: TableState
    target_version: int
    active_version: int | None
    target_retained: bool
    target_gate_status: GateStatus
    actor_role: Role

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _checked_table(self.table))
        _checked_version(self.target_version, "target_version")
        _checked_version(self.active_version, "active_version")

    @property
    def prefix(self) -> str:
        return f"cannot roll {self.table} back to v{self.target_version}"

    @property
    def ids(self) -> dict[str, Any]:
        return {"table": self.table, "version": self.target_version}


def rollback_lifecycle(facts: RollbackFacts) -> Decision:
    return _about(
        decide_transition(facts.table_state, Transition.ROLLBACK), facts.prefix, **facts.ids
    )


def rollback_role(facts: RollbackFacts) -> Decision:
    return _role_rule(facts.actor_role, Operation.ROLLBACK, facts.prefix, **facts.ids)


def rollback_target(facts: RollbackFacts) -> Decision:
    if facts.target_version != facts.active_version:
        return Decision.allow()
    return Decision.block(
        "already_active",
        f"{facts.prefix}: v{facts.target_version} is already the active version; choose "
        f"another retained version (spyne tables versions {facts.table})",
        active_version=facts.active_version,
        **facts.ids,
    )


def rollback_retained(facts: RollbackFacts) -> Decision:
    if facts.target_retained:
        return Decision.allow()
    return Decision.block(
        "retention",
        f"{facts.prefix}: v{facts.target_version} is no longer retained (its rollback "
        f"window has passed); choose a retained version (spyne tables versions {facts.table})",
        **facts.ids,
    )


def rollback_gates(facts: RollbackFacts) -> Decision:
    if facts.target_gate_status == GateStatus.PASSED:
        return Decision.allow()
    return Decision.block(
        "gates",
        f"{facts.prefix}: its gates are {facts.target_gate_status.value.replace('_', ' ')}, "
        "and only a version that passed its gates can be active; choose a version that passed",
        gate_status=facts.target_gate_status.value,
        **facts.ids,
    )


ROLLBACK_RULES: tuple[Callable[[RollbackFacts], Decision], ...] = (
    rollback_lifecycle,
    rollback_role,
    rollback_target,
    rollback_retained,
    rollback_gates,
)


def decide_rollback(facts: RollbackFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in ROLLBACK_RULES))


@dataclass(frozen=True)
class TableActionFacts:
    """Facts for a state change that only needs the lifecycle and the actor's role."""

    table: str
    table_state: TableState
    actor_role: Role

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _checked_table(self.table))


RestoreFacts = TableActionFacts
DeprecateFacts = TableActionFacts


def _decide_action(
    facts: TableActionFacts, transition: Transition, operation: Operation
) -> Decision:
    prefix = f"cannot {transition.value} {facts.table}"
    ids = {"table": facts.table}
    return combine_all(
        (
            _about(decide_transition(facts.table_state, transition), prefix, **ids),
            _role_rule(facts.actor_role, operation, prefix, **ids),
        )
    )


def decide_restore(facts: TableActionFacts) -> Decision:
    return _decide_action(facts, Transition.RESTORE, Operation.RESTORE)


def decide_deprecate(facts: TableActionFacts) -> Decision:
    return _decide_action(facts, Transition.DEPRECATE, Operation.DEPRECATE)


# --- from a decision to a typed refusal -----------------------------------------------------

RULE_ERRORS: Mapping[str, type[SpyneError]] = {
    "lifecycle": InvalidTransition,
    "roles": PermissionDenied,
    "already_active": InvalidTransition,
    "retention": InvalidTransition,
    "gates": GateFailed,
    "drift": BreakingDrift,
    "approval": ApprovalRequired,
}


def raise_unless_allowed(decision: Decision) -> None:
    """Raise the typed error of the first (most restrictive) reason, if not allowed."""
    if decision.allowed:
        return
    rule = decision.reasons[0].rule if decision.reasons else ""
    decision.raise_unless_allowed(RULE_ERRORS.get(rule, SpyneError))
