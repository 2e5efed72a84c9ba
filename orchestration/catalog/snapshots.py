"""Frozen snapshots of catalog rows: what the catalog hands out, never live database rows.

A caller cannot keep a stale row around and write it back later; every change goes through
the catalog's own methods, in their own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa

from orchestration.catalog.control_tables import AuditOutcome
from policies.errors import ValidationFailed
from policies.failures import FailureClass
from policies.lifecycle import TableState, Transition
from policies.modes import DEFAULT_MODE, SystemMode
from policies.naming import Layer, TableRef, parse_table_ref
from policies.publish import GateStatus
from policies.roles import Role

_E = TypeVar("_E", bound=StrEnum)
# A row of one of the control plane's tables (columns by name).
Row: TypeAlias = sa.Row[Any]


def parse_enum(kind: type[_E], value: _E | str, what: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationFailed(
            f"{what} {value!r} is not one of: {allowed}", details={field: value}
        ) from None


@dataclass(frozen=True)
class PrincipalInfo:
    id: int
    name: str
    role: Role
    key_prefix: str
    created_at: datetime
    created_by: str
    disabled: bool


@dataclass(frozen=True)
class ModeInfo:
    mode: SystemMode
    version: int  # 0 when no mode was ever set (then the mode is READ_ONLY)
    changed_at: datetime | None
    changed_by: str | None
    reason: str | None = None


@dataclass(frozen=True)
class TableInfo:
    name: str
    layer: Layer
    state: TableState
    active_version: int | None
    row_version: int
    created_at: datetime
    updated_at: datetime
    last_promoted_at: datetime | None
    version_count: int  # retained versions (not dropped)

    @property
    def ref(self) -> TableRef:
        return parse_table_ref(self.name)

    @property
    def visible_version(self) -> int | None:
        """The version the canonical view shows: only ACTIVE tables have a view."""
        return self.active_version if self.state == TableState.ACTIVE else None


@dataclass(frozen=True)
class VersionInfo:
    table_name: str
    version: int
    physical_name: str
    created_at: datetime
    row_count: int
    schema: list[dict[str, Any]]
    content_hash: str
    gate_status: GateStatus
    gate_details: dict[str, Any] | None
    drift: dict[str, Any] | None
    build_run_id: str | None
    last_active_at: datetime | None
    dropped_at: datetime | None

    @property
    def dropped(self) -> bool:
        return self.dropped_at is not None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    seq: int
    at: datetime
    actor: str
    launched_by: str | None
    action: str
    target: str | None
    outcome: AuditOutcome
    details: dict[str, Any]
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class StateChange:
    id: int
    table_name: str
    from_state: TableState
    to_state: TableState
    transition: Transition
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str | None


class IntentStatus(StrEnum):
    PENDING = "pending"  # recorded; the warehouse may or may not have been changed yet
    DONE = "done"  # the warehouse change and the catalog change both committed
    UNDONE = "undone"  # interrupted; the warehouse was put back to what the catalog says


@dataclass(frozen=True)
class IntentInfo:
    """An act that touches the warehouse and the catalog, recorded before either changes."""

    id: int
    table_name: str
    action: str
    from_version: int | None  # what the canonical view showed before (None: no view)
    to_version: int | None  # what it shows after (None: no view)
    actor: str
    launched_by: str | None
    created_at: datetime
    status: IntentStatus
    finished_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class DeadLetterInfo:
    """A run whose retries are used up: what it was asked to do and how each step failed."""

    id: int
    run_id: str
    job_name: str
    selection: dict[
        str, Any
    ]  # {"assets": [...] | None, "checks": [...] | None, "ops": [...] | None}
    org: str | None
    launched_by: str | None
    failure_class: FailureClass
    why: str
    steps: list[dict[str, Any]]  # per failed attempt: step, attempt, class, retryable, message
    failed_at: datetime
    recorded_at: datetime
    recorded_by: str
    requeued_at: datetime | None
    requeued_by: str | None
    requeued_run_id: str | None

    @property
    def requeued(self) -> bool:
        return self.requeued_run_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "job_name": self.job_name,
            "selection": self.selection,
            "org": self.org,
            "launched_by": self.launched_by,
            "failure_class": self.failure_class.value,
            "why": self.why,
            "steps": self.steps,
            "failed_at": self.failed_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
            "requeued_at": self.requeued_at.isoformat() if self.requeued_at else None,
            "requeued_by": self.requeued_by,
            "requeued_run_id": self.requeued_run_id,
        }


def principal_info(row: Row) -> PrincipalInfo:
    return PrincipalInfo(
        id=row.id,
        name=row.name,
        role=Role.parse(row.role),
        key_prefix=row.key_prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        disabled=bool(row.disabled),
    )


def mode_info(row: Row | None) -> ModeInfo:
    if row is None:
        return ModeInfo(SystemMode(DEFAULT_MODE), 0, None, None, None)
    return ModeInfo(SystemMode(row.mode), row.version, row.changed_at, row.changed_by, row.reason)


def table_info(row: Row, version_count: int) -> TableInfo:
    return TableInfo(
        name=row.name,
        layer=Layer(row.layer),
        state=TableState(row.state),
        active_version=row.active_version,
        row_version=row.row_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_promoted_at=row.last_promoted_at,
        version_count=version_count,
    )


def version_info(row: Row) -> VersionInfo:
    return VersionInfo(
        table_name=row.table_name,
        version=row.version,
        physical_name=row.physical_name,
        created_at=row.created_at,
        row_count=row.row_count,
        schema=list(row.schema_json),
        content_hash=row.content_hash,
        gate_status=GateStatus(row.gate_status),
        gate_details=row.gate_details,
        drift=row.drift_json,
        build_run_id=row.build_run_id,
        last_active_at=row.last_active_at,
        dropped_at=row.dropped_at,
    )


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        seq=int(row.seq or 0),
        at=row.at,
        actor=row.actor,
        launched_by=row.launched_by,
        action=row.action,
        target=row.target,
        outcome=AuditOutcome(row.outcome),
        details=dict(row.details or {}),
        prev_hash=row.prev_hash or "",
        row_hash=row.row_hash or "",
    )


def state_change(row: Row) -> StateChange:
    return StateChange(
        id=row.id,
        table_name=row.table_name,
        from_state=TableState(row.from_state),
        to_state=TableState(row.to_state),
        transition=Transition(row.transition),
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        at=row.at,
        reason=row.reason,
    )


def intent_info(row: Row) -> IntentInfo:
    return IntentInfo(
        id=row.id,
        table_name=row.table_name,
        action=row.action,
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        launched_by=row.launched_by,
        created_at=row.created_at,
        status=IntentStatus(row.status),
        finished_at=row.finished_at,
        note=row.note,
    )


def dead_letter_info(row: Row) -> DeadLetterInfo:
    return DeadLetterInfo(
        id=row.id,
        run_id=row.run_id,
        job_name=row.job_name,
        selection=dict(row.selection or {}),
        org=row.org,
        launched_by=row.launched_by,
        failure_class=FailureClass(row.failure_class),
        why=row.why,
        steps=list(row.steps or []),
        failed_at=row.failed_at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        requeued_at=row.requeued_at,
        requeued_by=row.requeued_by,
        requeued_run_id=row.requeued_run_id,
    )
