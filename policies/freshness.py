"""Freshness on event time: how late a contract's data is, and when that is worth a look again.

The lag is measured from the newest *event time* landed for a contract (its
``event_time_column``, the greatest value in the ACTIVE bronze version), never from when a job
last ran or when rows arrived: a load of late rows that fills an old day leaves the newest event
time where it was, so it does not make today's data fresh. Past ``alert_threshold`` the contract
is late (a warning); past ``max_lag`` its SLA is breached. Both bounds are exclusive: a lag equal
to a bound is still on the good side of it, as Dagster's last-update freshness check counts it.

A contract's ``schedule`` (a cron expression, in UTC) says when deliveries are expected. The
first delivery scheduled after the newest event is the one that brought it; until the one after
that is due (:func:`next_delivery_due`), the source is not late whatever the lag: nothing it was
expected to deliver is missing yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]  # no stubs shipped

from policies.alerts import AlertSeverity


class FreshnessStatus(IntEnum):
    """Ordered: a worse status is greater."""

    NO_DATA = 0  # nothing landed yet: nothing to be late about
    FRESH = 1
    LATE = 2  # past alert_threshold: warn
    BREACH = 3  # past max_lag: the SLA is broken


@dataclass(frozen=True)
class FreshnessSla:
    max_lag: timedelta
    alert_threshold: timedelta
    schedule: str | None = None  # when deliveries are expected (cron, UTC); None: any time

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> FreshnessSla:
        """From a registered contract's summary (``freshness.max_lag_s`` / ``alert_threshold_s``
        / ``schedule``)."""
        f = summary["freshness"]
        return cls(
            timedelta(seconds=int(f["max_lag_s"])),
            timedelta(seconds=int(f["alert_threshold_s"])),
            f.get("schedule") or None,
        )


@dataclass(frozen=True)
class FreshnessVerdict:
    status: FreshnessStatus
    lag: timedelta | None  # None: no event landed yet
    sla: FreshnessSla
    reason: str

    @property
    def alert_severity(self) -> AlertSeverity | None:
        """What the alert says, if any: late warns, a breach is critical, fresh clears."""
        return _ALERT.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.name,
            "lag_s": None if self.lag is None else int(self.lag.total_seconds()),
            "max_lag_s": int(self.sla.max_lag.total_seconds()),
            "alert_threshold_s": int(self.sla.alert_threshold.total_seconds()),
            "reason": self.reason,
        }


def format_duration(value: timedelta) -> str:
    """Days at most, as people read a lag: ``31d``, ``1d2h``, ``45m``, ``0s``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


_ALERT = {
    FreshnessStatus.LATE: AlertSeverity.WARNING,
    FreshnessStatus.BREACH: AlertSeverity.CRITICAL,
}


def judge(sla: FreshnessSla, newest_event: datetime | None, now: datetime) -> FreshnessVerdict:
    """The contract's freshness at ``now`` given the newest event time landed (timezone-aware)."""
    if newest_event is None:
        return FreshnessVerdict(
            FreshnessStatus.NO_DATA, None, sla, "no event has landed yet: nothing to measure"
        )
    # An event time ahead of the clock (a source clock running fast) is no lag at all.
    lag = max(now - newest_event, timedelta(0))
    said = f"the newest event landed is {format_duration(lag)} old"
    due = next_delivery_due(sla.schedule, newest_event)
    if due is not None and now < due and lag > sla.alert_threshold:
        return FreshnessVerdict(
            FreshnessStatus.FRESH,
            lag,
            sla,
            f"{said}, but the next delivery (schedule {sla.schedule!r}) is not due before "
            f"{due.isoformat()}",
        )
    if lag > sla.max_lag:
        return FreshnessVerdict(
            FreshnessStatus.BREACH,
            lag,
            sla,
            f"{said}, past the SLA's max_lag of {format_duration(sla.max_lag)}",
        )
    if lag > sla.alert_threshold:
        return FreshnessVerdict(
            FreshnessStatus.LATE,
            lag,
            sla,
            f"{said}, past the alert_threshold of {format_duration(sla.alert_threshold)} "
            f"(the SLA breaks at {format_duration(sla.max_lag)})",
        )
    return FreshnessVerdict(
        FreshnessStatus.FRESH,
        lag,
        sla,
        f"{said}, within the alert_threshold of {format_duration(sla.alert_threshold)}",
    )


def next_delivery_due(schedule: str | None, newest_event: datetime) -> datetime | None:
    """When the delivery after the one that brought ``newest_event`` is due: the schedule's
    second tick after it. None without a schedule, or with one that has no ticks (``61 3 * * *``
    is shaped like cron but out of range): then the lag alone is judged, nothing is held back."""
    if schedule is None:
        return None
    try:
        ticks = croniter(schedule, newest_event.astimezone(UTC))
        ticks.get_next(datetime)  # the delivery that brought it
        due: datetime = ticks.get_next(datetime)
    except ValueError:  # croniter's errors are ValueErrors
        return None
    return due


def newest_event_time(previous: datetime | None, landed: Sequence[datetime]) -> datetime | None:
    """The newest event time after a load of rows with event times ``landed``: late rows (older
    than the newest already landed) never move it, only a newer event does."""
    candidates = [t for t in (previous, *landed) if t is not None]
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class LastEvaluation:
    """The latest completed freshness evaluation of a contract."""

    evaluated_at: datetime
    newest_event: datetime | None  # the newest event time it saw


def evaluation_due(
    sla: FreshnessSla,
    newest_event: datetime | None,
    last: LastEvaluation | None,
    now: datetime,
) -> bool:
    """Whether the freshness check must be evaluated again at ``now``: never evaluated, newer (or
    other) data than it saw, or a bound (``alert_threshold``, ``max_lag``, the next delivery
    due) crossed since, so the verdict can have changed. Otherwise evaluating again would say
    the same thing."""
    if newest_event is None:
        return False
    if last is None or last.newest_event != newest_event:
        return True
    crossings = [newest_event + sla.alert_threshold, newest_event + sla.max_lag]
    due = next_delivery_due(sla.schedule, newest_event)
    if due is not None and due - newest_event > sla.alert_threshold:
        crossings.append(due)  # a late verdict held back until then is one no longer
    return any(last.evaluated_at <= crossing < now for crossing in crossings)


@dataclass(frozen=True)
class AlertMoves:
    close: bool  # close the contract's open freshness alert
    raise_alert: bool  # raise one for the verdict (a no-op when one of its status is open)


def alert_moves(open_status: str | None, verdict: FreshnessStatus) -> AlertMoves:
    """What a verdict does to the contract's freshness alert, given the status of the one open
    (``None``: none is). Decided from the catalog's open alert, not from what the sensor last
    remembered: a tick killed after raising is followed by one that finds the alert open and
    neither closes nor pages it again. A late contract that breaches (or the reverse) is a new
    condition: the open alert is closed and the new one pages."""
    if verdict == FreshnessStatus.NO_DATA:
        return AlertMoves(False, False)
    if verdict == FreshnessStatus.FRESH:
        return AlertMoves(open_status is not None, False)
    return AlertMoves(open_status is not None and open_status != verdict.name, True)
