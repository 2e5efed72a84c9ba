"""The freshness sensor's work: observe event time, ask for due checks, alert on their verdicts.

One tick, per contract with a freshness check:

1. its newest event time landed: ``MAX(event_time_column)`` over the ACTIVE bronze view (the
   contract's registered version says which column), so rows that arrive late for an old day
   never make it newer; when it moved, an observation of ``erp/<table>`` records it as the
   asset's ``dagster/last_updated_timestamp``;
2. the latest completed evaluation of its Dagster freshness check, when the sensor has not
   handled it yet: the lag it saw (evaluation instant minus that timestamp) is judged by
   ``policies.freshness.judge`` against the registered contract's SLA, and raises, escalates
   or clears the contract's ``freshness`` alert;
3. whether the check is due again (``policies.freshness.evaluation_due``): the due checks are
   one run request of ``spyne_freshness_checks``.

The cursor keeps, per contract, the event time observed, the evaluation handled and its status,
so a restart neither repeats an observation nor pages twice. Time is Dagster's clock
(``dagster._time``), the same one its checks read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckKey,
    AssetObservation,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    TimestampMetadataValue,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._time import get_current_datetime

from orchestration.catalog.notifications import NewAlert
from orchestration.sensors.event_time import newest_landed
from policies.alerts import AlertKind, condition_key
from policies.freshness import (
    FreshnessSla,
    FreshnessStatus,
    FreshnessVerdict,
    LastEvaluation,
    alert_moves,
    evaluation_due,
    judge,
)
from policies.naming import Layer

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from orchestration.alerts.service import Alerts
    from orchestration.catalog.contracts import ContractVersionInfo

LAST_UPDATED = "dagster/last_updated_timestamp"
LOWER_BOUND = "dagster/freshness_lower_bound_timestamp"
PARAMS = "dagster/freshness_params"


@dataclass
class Cursor:
    observed: dict[str, str] = field(default_factory=dict)  # contract -> newest event (ISO)
    handled: dict[str, int] = field(default_factory=dict)  # contract -> last evaluation handled
    status: dict[str, str] = field(default_factory=dict)  # contract -> status it alerted on

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        data = json.loads(text) if text else {}
        return cls(data.get("observed", {}), data.get("handled", {}), data.get("status", {}))

    def dump(self) -> str:
        return json.dumps(
            {"observed": self.observed, "handled": self.handled, "status": self.status},
            sort_keys=True,
        )


@dataclass(frozen=True)
class Evaluation:
    """A completed evaluation of a contract's Dagster freshness check."""

    record_id: int
    passed: bool
    evaluated_at: datetime
    newest_event: datetime | None


def in_flight(instance: DagsterInstance, key: AssetCheckKey) -> bool:
    """A run evaluating the check is planned or running: asking for another would double it."""
    summary = instance.event_log_storage.get_asset_check_summary_records([key])[key]
    record = summary.last_check_execution_record
    return record is not None and record.status == AssetCheckExecutionRecordStatus.PLANNED


def latest_evaluation(instance: DagsterInstance, key: AssetCheckKey) -> Evaluation | None:
    summary = instance.event_log_storage.get_asset_check_summary_records([key])[key]
    record = summary.last_completed_check_execution_record
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    if record is None or evaluation is None:
        return None
    meta: Mapping[str, Any] = {k: v.value for k, v in evaluation.metadata.items()}
    # Dagster's check measured against "now minus the threshold": that instant is the evaluation's
    updated = meta.get(LAST_UPDATED)
    return Evaluation(
        record.id,
        evaluation.passed,
        datetime.fromtimestamp(
            float(meta[LOWER_BOUND]) + float(meta[PARAMS]["lower_bound_delta_seconds"]), UTC
        ),
        datetime.fromtimestamp(float(updated), UTC) if updated is not None else None,
    )


def observe(
    instance: DagsterInstance,
    key: AssetCheckKey,
    info: ContractVersionInfo,
    newest: datetime,
    version: int,
) -> None:
    instance.report_runless_asset_event(
        AssetObservation(
            asset_key=key.asset_key,
            description=f"newest {info.summary['event_time_column']} landed in bronze."
            f"{info.table} v{version}",
            metadata={
                LAST_UPDATED: TimestampMetadataValue(newest.timestamp()),
                "spyne/contract": info.contract_id,
                "spyne/contract_version": info.version,
                "spyne/event_time_column": str(info.summary["event_time_column"]),
                "spyne/bronze_version": version,
            },
        )
    )


def freshness_alert(contract: str, table: str, verdict: FreshnessVerdict) -> NewAlert:
    severity = verdict.alert_severity
    assert severity is not None
    what = "breached its freshness SLA" if verdict.status == FreshnessStatus.BREACH else "is late"
    return NewAlert(
        AlertKind.FRESHNESS,
        severity,
        contract,
        f"contract {contract} {what}: {verdict.reason}",
        {
            "contract": contract,
            "table": f"{Layer.BRONZE.value}.{table}",
            **verdict.to_dict(),
            "what_to_do": "look at the source and the ingestion runs; the alert clears when newer "
            "events land",
        },
    )


def handle(alerts: Alerts, cursor: Cursor, contract: str, table: str, v: FreshnessVerdict) -> None:
    """Raise, escalate or clear the contract's freshness alert for a new verdict, as decided
    from the alert open in the catalog (:func:`policies.freshness.alert_moves`)."""
    cursor.status[contract] = v.status.name
    found = alerts.catalog.notifications.open_alert(condition_key(AlertKind.FRESHNESS, contract))
    moves = alert_moves(str(found.details.get("status")) if found else None, v.status)
    if moves.close:
        reason = (
            f"{contract} is fresh again: {v.reason}"
            if v.status == FreshnessStatus.FRESH
            else f"{contract} is now {v.status.name}"
        )
        alerts.clear(AlertKind.FRESHNESS, contract, reason)
    if moves.raise_alert:
        alerts.raise_alert(freshness_alert(contract, table, v))


def sensor_tick(
    context: SensorEvaluationContext, check_keys: Mapping[str, AssetCheckKey]
) -> SensorResult:
    from orchestration.runtime import runtime
    from orchestration.sensors.definitions import sensor_alerts
    from orchestration.sensors.freshness_definitions import FRESHNESS_SENSOR

    rt = runtime()
    alerts = sensor_alerts(rt, FRESHNESS_SENSOR, "freshness")
    instance = context.instance
    cursor = Cursor.parse(context.cursor)
    now = get_current_datetime()
    registered = {c.contract_id: c for c in rt.catalog.contracts.latest()}
    active = rt.catalog.alert_facts.active_schemas(Layer.BRONZE)
    due: list[AssetCheckKey] = []
    said: dict[str, Any] = {}
    for contract, key in check_keys.items():
        info = registered.get(contract)
        if info is None:
            said[contract] = "not registered"
            continue
        sla = FreshnessSla.from_summary(dict(info.summary))
        found = active.get(f"{Layer.BRONZE.value}.{info.table}")
        newest = (
            newest_landed(rt.warehouse, info.table, str(info.summary["event_time_column"]))
            if found is not None
            else None
        )
        if newest is not None and cursor.observed.get(contract) != newest.isoformat():
            observe(instance, key, info, newest, found[0] if found else 0)
            cursor.observed[contract] = newest.isoformat()
        last = latest_evaluation(instance, key)
        if last is not None and last.record_id != cursor.handled.get(contract):
            verdict = judge(sla, last.newest_event, last.evaluated_at)
            handle(alerts, cursor, contract, info.table, verdict)
            cursor.handled[contract] = last.record_id
        previous = LastEvaluation(last.evaluated_at, last.newest_event) if last else None
        if evaluation_due(sla, newest, previous, now) and not in_flight(instance, key):
            due.append(key)
        said[contract] = cursor.status.get(contract, "not evaluated")
    alerts.deliver()
    requests = [RunRequest(asset_check_keys=due)] if due else []
    return SensorResult(
        run_requests=requests,
        skip_reason=None if due else f"no freshness check due; {json.dumps(said, sort_keys=True)}",
        cursor=cursor.dump(),
    )
