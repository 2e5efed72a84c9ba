"""Freshness on event time in Dagster's own terms: observations, last-update checks, a sensor.

- Each contract's newest event time landed is recorded as an *observation* of its source asset
  ``erp/<table>`` whose ``dagster/last_updated_timestamp`` is that event time (not when it was
  observed), so the asset's last update in the UI is the data's own time.
- Dagster's ``build_last_update_freshness_checks`` checks each source asset against the
  contract's ``alert_threshold`` (the dbt source's ``warn_after``, which the contract holds
  equal): it reads that timestamp, fails (severity WARN) when the newest event is older.
- The ``spyne_freshness`` sensor (on by default) records the observations, launches the job
  ``spyne_freshness_checks`` for the checks whose verdict can have changed, and turns every
  completed evaluation into a verdict (``policies.freshness``: late past ``alert_threshold``,
  breached past ``max_lag``) and an alert of kind ``freshness``.

Loading the location reads the dbt manifest only; the catalog and the warehouse are imported
when the sensor runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetChecksDefinition,
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    build_last_update_freshness_checks,
    define_asset_job,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from orchestration.runs.tags import job_tags
from policies.naming import Layer

FRESHNESS_SENSOR = "spyne_freshness"
FRESHNESS_JOB = "spyne_freshness_checks"
CHECK_NAME = "freshness_check"  # the name Dagster's last-update checks carry
_PERIODS = {"minute": 60, "hour": 3_600, "day": 86_400}


def _dbt_period(value: Mapping[str, Any] | None) -> timedelta | None:
    if not value or value.get("count") is None or value.get("period") not in _PERIODS:
        return None
    return timedelta(seconds=int(value["count"]) * _PERIODS[str(value["period"])])


def contract_sources(m: Mapping[str, Any] | None = None) -> dict[str, tuple[AssetKey, timedelta]]:
    """Contract id -> (its source asset, its alert threshold) for every bronze source with a
    contract and a freshness SLA in the dbt project."""
    from orchestration.assets.project import SOURCE_SYSTEM, manifest

    m = manifest() if m is None else m
    out = {}
    for source in m["sources"].values():
        if source["source_name"] != Layer.BRONZE.value:
            continue
        spyne = ((source.get("meta") or {}).get("spyne")) or {}
        freshness = source.get("freshness") or (source.get("config") or {}).get("freshness") or {}
        warn = _dbt_period(freshness.get("warn_after"))
        if not spyne.get("contract") or warn is None:
            continue
        origin = str(spyne.get("source") or f"{SOURCE_SYSTEM}.{source['name']}")
        out[str(spyne["contract"])] = (AssetKey([SOURCE_SYSTEM, origin.split(".")[-1]]), warn)
    return dict(sorted(out.items()))


def freshness_checks(
    sources: Mapping[str, tuple[AssetKey, timedelta]],
) -> list[AssetChecksDefinition]:
    """One Dagster last-update freshness check per contract's source asset."""
    with warnings.catch_warnings():
        # Dagster marks these checks superseded by FreshnessPolicy, whose evaluator reads only
        # materialization times: it cannot be fed an event time.
        warnings.simplefilter("ignore")
        return [
            check
            for key, threshold in sources.values()
            for check in build_last_update_freshness_checks(
                assets=[key], lower_bound_delta=threshold
            )
        ]


def freshness_job(checks: Sequence[AssetChecksDefinition]) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        FRESHNESS_JOB,
        selection=AssetSelection.checks(*checks),
        description="Evaluate the freshness checks of the contracts' source assets (event time).",
        tags=job_tags(),
    )


def freshness_sensor(
    sources: Mapping[str, tuple[AssetKey, timedelta]], job: UnresolvedAssetJobDefinition
) -> SensorDefinition:
    check_keys = {c: AssetCheckKey(key, CHECK_NAME) for c, (key, _) in sources.items()}

    @sensor(
        name=FRESHNESS_SENSOR,
        job=job,
        description="Records each contract's newest event time landed as an observation of its "
        "source asset, launches the freshness checks whose verdict can have changed, and alerts "
        "when a contract is late (past alert_threshold) or breaches its SLA (past max_lag).",
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def spyne_freshness(context: SensorEvaluationContext) -> SensorResult:
        from orchestration.sensors.freshness import sensor_tick

        return sensor_tick(context, check_keys)

    return spyne_freshness


SOURCES = contract_sources()
CHECKS = freshness_checks(SOURCES)
JOB = freshness_job(CHECKS)
SENSOR = freshness_sensor(SOURCES, JOB)
