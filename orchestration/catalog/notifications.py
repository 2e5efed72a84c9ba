"""Notifications: alert conditions, deduplicated, closed when they clear, acknowledged by a person.

Raising an alert whose condition is already open only counts the repeat: it does not page again.
Raising, closing and acknowledging are audited in the same transaction as the change. Each
channel an alert is routed to has a delivery row, so a failed delivery is kept and retried later
by whoever looks for due deliveries (the sensors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestration.catalog.alert_models import (
    OPEN,
    DeliveryRow,
    NotificationRow,
)
from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.engine import Database
from orchestration.jsonable import json_safe
from policies.alerts import AlertKind, AlertSeverity, condition_key
from policies.errors import InvalidTransition, NotFound

PG_LOCK_ALERTS = 0x5350_0006  # serialises opening conditions across processes (PostgreSQL)
OPEN_ACTION = "alert_opened"
CLOSE_ACTION = "alert_closed"
ACK_ACTION = "alert_acked"


@dataclass(frozen=True)
class NewAlert:
    kind: AlertKind
    severity: AlertSeverity
    subject: str  # what it is about: a run id, a table, a source
    title: str  # one sentence a person acts on
    details: Mapping[str, Any]

    @property
    def condition_key(self) -> str:
        return condition_key(self.kind, self.subject)


@dataclass(frozen=True)
class NotificationInfo:
    id: int
    condition_key: str
    kind: AlertKind
    severity: AlertSeverity
    subject: str
    title: str
    details: dict[str, Any]
    open: bool
    opened_at: datetime
    opened_by: str
    repeats: int
    last_seen_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    acked_at: datetime | None
    acked_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "condition_key": self.condition_key,
            "kind": self.kind.value,
            "severity": self.severity.label,
            "subject": self.subject,
            "title": self.title,
            "details": self.details,
            "status": "open" if self.open else "closed",
            "opened_at": self.opened_at.isoformat(),
            "opened_by": self.opened_by,
            "repeats": self.repeats,
            "last_seen_at": self.last_seen_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "acked_by": self.acked_by,
        }


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    notification_id: int
    channel: str
    status: str
    attempts: int
    rounds: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Raised:
    notification: NotificationInfo
    opened: bool  # False: the condition was already open; nobody is paged again


def _info(row: NotificationRow) -> NotificationInfo:
    return NotificationInfo(
        id=row.id,
        condition_key=row.condition_key,
        kind=AlertKind(row.kind),
        severity=AlertSeverity.parse(row.severity),
        subject=row.subject,
        title=row.title,
        details=dict(row.details or {}),
        open=row.status == OPEN,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        repeats=row.repeats,
        last_seen_at=row.last_seen_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
    )


def _delivery(row: DeliveryRow) -> DeliveryInfo:
    return DeliveryInfo(
        row.id,
        row.notification_id,
        row.channel,
        row.status,
        row.attempts,
        row.rounds,
        row.last_error,
        row.next_attempt_at,
        row.delivered_at,
    )


class Notifications:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- conditions -----------------------------------------------------------------------
    def raise_alert(
        self, alert: NewAlert, channels: Sequence[str], actor: str, launched_by: str | None = None
    ) -> Raised:
        """Open the condition (audited, one pending delivery per channel) unless it is open."""
        key = alert.condition_key
        with self._db.session(write=True) as s:
            self._db.pg_lock(s, PG_LOCK_ALERTS)
            row = _open_row(s, key)
            at = now()
            if row is not None:
                row.repeats += 1
                row.last_seen_at = at
                return Raised(_info(row), opened=False)
            row = NotificationRow(
                condition_key=key,
                kind=alert.kind.value,
                severity=alert.severity.label,
                subject=alert.subject,
                title=alert.title,
                details=json_safe(dict(alert.details)),
                status=OPEN,
                opened_at=at,
                opened_by=actor,
                repeats=0,
                last_seen_at=at,
            )
            s.add(row)
            s.flush()
            for channel in dict.fromkeys(channels):
                s.add(
                    DeliveryRow(
                        notification_id=row.id,
                        channel=channel,
                        status="pending",
                        attempts=0,
                        rounds=0,
                        next_attempt_at=at,
                    )
                )
            s.flush()
            append(
                self._db,
                s,
                actor,
                OPEN_ACTION,
                f"alert:{row.id}",
                AuditOutcome.RECORDED,
                {"condition": key, "severity": alert.severity.label, "channels": list(channels)},
                launched_by,
            )
            return Raised(_info(row), opened=True)

    def close(
        self, key: str, actor: str, reason: str, launched_by: str | None = None
    ) -> NotificationInfo | None:
        """Close the open condition ``key`` (audited); None when nothing was open."""
        with self._db.session(write=True) as s:
            row = _open_row(s, key, lock=True)
            if row is None:
                return None
            row.status = "closed"
            row.closed_at = now()
            row.closed_by = actor
            s.flush()
            append(
                self._db,
                s,
                actor,
                CLOSE_ACTION,
                f"alert:{row.id}",
                AuditOutcome.RECORDED,
                {"condition": key, "reason": reason},
                launched_by,
            )
            return _info(row)

    def ack(self, alert_id: int, actor: str, launched_by: str | None = None) -> NotificationInfo:
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(NotificationRow).where(NotificationRow.id == alert_id).with_for_update()
            )
            if row is None:
                raise NotFound(
                    f"there is no alert {alert_id}; see `spyne alerts list`",
                    details={"alert": alert_id},
                )
            if row.acked_by is not None:
                raise InvalidTransition(
                    f"alert {alert_id} was already acknowledged by {row.acked_by} at "
                    f"{row.acked_at:%Y-%m-%d %H:%M} UTC",
                    details={"alert": alert_id, "acked_by": row.acked_by},
                )
            row.acked_at = now()
            row.acked_by = actor
            s.flush()
            append(
                self._db,
                s,
                actor,
                ACK_ACTION,
                f"alert:{row.id}",
                AuditOutcome.ALLOWED,
                {"condition": row.condition_key},
                launched_by,
            )
            return _info(row)

    def get(self, alert_id: int) -> NotificationInfo:
        with self._db.session(write=False) as s:
            row = s.get(NotificationRow, alert_id)
            if row is None:
                raise NotFound(f"there is no alert {alert_id}", details={"alert": alert_id})
            return _info(row)

    def all(self, open_only: bool = False, limit: int = 200) -> list[NotificationInfo]:
        """Newest first."""
        stmt = sa.select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
        if open_only:
            stmt = stmt.where(NotificationRow.status == OPEN)
        with self._db.session(write=False) as s:
            return [_info(r) for r in s.scalars(stmt).all()]

    def open_alert(self, key: str) -> NotificationInfo | None:
        """The open alert of condition ``key``, if any."""
        with self._db.session(write=False) as s:
            row = _open_row(s, key)
            return _info(row) if row is not None else None

    def open_keys(self, kind: AlertKind) -> set[str]:
        with self._db.session(write=False) as s:
            return set(
                s.scalars(
                    sa.select(NotificationRow.condition_key).where(
                        NotificationRow.status == OPEN, NotificationRow.kind == kind.value
                    )
                ).all()
            )

    def open_counts(self) -> dict[str, int]:
        """Open conditions per kind (every kind, zero included)."""
        with self._db.session(write=False) as s:
            rows = s.execute(
                sa.select(NotificationRow.kind, sa.func.count())
                .where(NotificationRow.status == OPEN)
                .group_by(NotificationRow.kind)
            ).all()
        counts = {k.value: 0 for k in AlertKind}
        counts.update({str(kind): int(n) for kind, n in rows})
        return counts

    # -- deliveries -----------------------------------------------------------------------
    def deliveries(self, alert_id: int) -> list[DeliveryInfo]:
        with self._db.session(write=False) as s:
            rows = s.scalars(
                sa.select(DeliveryRow)
                .where(DeliveryRow.notification_id == alert_id)
                .order_by(DeliveryRow.id)
            ).all()
            return [_delivery(r) for r in rows]

    def due_deliveries(self, at: datetime | None = None) -> list[DeliveryInfo]:
        """Deliveries not yet made nor given up whose next try is due."""
        at = at or now()
        with self._db.session(write=False) as s:
            rows = s.scalars(
                sa.select(DeliveryRow)
                .where(
                    DeliveryRow.status.in_(("pending", "failed")),
                    DeliveryRow.next_attempt_at <= at,
                )
                .order_by(DeliveryRow.id)
            ).all()
            return [_delivery(r) for r in rows]

    def settle_delivery(
        self,
        delivery_id: int,
        *,
        ok: bool,
        attempts: int,
        error: str | None,
        retry_at: datetime | None,
    ) -> DeliveryInfo:
        """Record one round of tries: delivered, failed (tried again at ``retry_at``) or given up."""
        with self._db.session(write=True) as s:
            row = s.get(DeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}", details={"delivery": delivery_id})
            row.attempts += attempts
            row.rounds += 1
            row.last_error = error
            if ok:
                row.status, row.delivered_at, row.next_attempt_at = "delivered", now(), None
            elif retry_at is None:
                row.status, row.next_attempt_at = "given_up", None
            else:
                row.status, row.next_attempt_at = "failed", retry_at
            s.flush()
            return _delivery(row)


def _open_row(s: Session, key: str, lock: bool = False) -> NotificationRow | None:
    stmt = sa.select(NotificationRow).where(
        NotificationRow.condition_key == key, NotificationRow.status == OPEN
    )
    if lock:
        stmt = stmt.with_for_update()
    return s.scalar(stmt)
