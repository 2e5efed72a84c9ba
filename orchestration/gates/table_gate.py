"""Run a table's promotion gates (Great Expectations suite, dbt tests, schema drift) and record the verdicts.

The suite runs where the version is: in the DuckDB file, or in BigQuery (prod), chosen by the
warehouse's kind (:func:`gate_source_for`). A verdict is recorded only about data the gate
could see. A missing warehouse, a missing version table or a version the janitor dropped is
refused with ``NotFound``, and a query over BigQuery's byte cap with ``CostLimitExceeded``;
either records nothing: recording "failed" there would overwrite a version's real verdict with
one about nothing, and recording "passed" would be worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestration.assets.project import node_for, tests_for
from orchestration.catalog import GateStatus, VersionInfo
from orchestration.gates.duckdb_datasource import DuckDBGateSource
from orchestration.gates.results import GateResult
from orchestration.gates.runner import GateSource, run_gate
from orchestration.gates.suites import (
    MIN_ROWS_PARAMETER,
    ROW_COUNT_EXPECTATION,
    load_suite,
    suite_from_dbt_node,
)
from orchestration.identity import Actor
from orchestration.runtime import Runtime
from orchestration.warehouse import Warehouse, acting_as
from policies.drift import DriftReport
from policies.errors import ConfigError, NotFound
from policies.gates import (
    DbtTestResult,
    GateFacts,
    dbt_test_results,
    decide_gate,
    minimum_row_count,
)
from policies.lifecycle import TableState
from policies.naming import TableRef
from policies.settings import WarehouseKind


@dataclass(frozen=True)
class RowFloor:
    """The fewest rows the candidate may have, and what that number comes from."""

    active_version: int | None
    active_row_count: int | None
    max_row_drop: float
    minimum: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "active_version": self.active_version,
            "active_row_count": self.active_row_count,
            "max_row_drop": self.max_row_drop,
            "minimum": self.minimum,
        }


@dataclass(frozen=True)
class GateOutcome:
    ref: TableRef
    version: int
    result: GateResult  # success is the recorded verdict: expectations and dbt tests
    suite_source: str  # "expectations/<layer>/<table>.json" or "generated from dbt"
    row_floor: RowFloor

    @property
    def status(self) -> GateStatus:
        return GateStatus.PASSED if self.result.success else GateStatus.FAILED


def suite_for(ref: TableRef) -> tuple[Any, str]:
    suite = load_suite(ref.layer.value, ref.name)
    if suite is not None:
        return suite, f"expectations/{ref.layer.value}/{ref.name}.json"
    node = node_for(ref)
    return suite_from_dbt_node(node, tests_for(node["unique_id"])), "generated from dbt"


def row_floor(rt: Runtime, ref: TableRef) -> RowFloor:
    """The ACTIVE version's row count (none before the first promotion) less the allowed drop."""
    table = rt.catalog.get_table(ref.canonical)
    active = table.active_version if table.state == TableState.ACTIVE else None
    rows = None if active is None else rt.catalog.get_version(ref.canonical, active).row_count
    drop = rt.policy.max_row_drop_for(ref.canonical)
    return RowFloor(active, rows, drop, minimum_row_count(rows, drop))


def run_table_gate(
    rt: Runtime,
    ref: TableRef,
    version: int | None = None,
    *,
    actor: Actor,
    dbt_tests: Sequence[Mapping[str, Any]] = (),
) -> GateOutcome:
    """Gate one version (the newest by default) and record the verdict in the catalog.

    ``dbt_tests`` are the dbt tests run on that version, one ``{"name", "status",
    "message"}`` each; a ``fail`` or ``error`` fails the gate even when every expectation
    passed. Raises ``NotFound`` (recording nothing) when the data is not there to look at.
    """
    tests = dbt_test_results(dbt_tests)  # refuse bad input before anything runs
    info = rt.service().version(ref.canonical, version)
    if info.dropped:
        raise _not_found(rt, ref, info, "was dropped by the janitor (its retention ended)")
    suite, origin = suite_for(ref)
    floor = row_floor(rt, ref)
    with acting_as(actor.name):  # BigQuery labels the gate's jobs with who acts
        source = gate_source_for(rt.warehouse, ref, info.version)
    result = run_gate(
        source,
        ref.shadow_schema,
        ref.version_identifier(info.version),
        suite,
        parameters={MIN_ROWS_PARAMETER: floor.minimum},
        data_docs_dir=Path(rt.settings.gx_root),
    )
    if result.refusal is not None:
        raise result.refusal  # e.g. over the byte cap: no verdict on the data
    if result.missing == "warehouse":
        raise _not_found(
            rt, ref, info, f"cannot be read: the warehouse {rt.warehouse.location} does not exist"
        )
    if result.missing == "table":
        raise _not_found(rt, ref, info, f"is not in the warehouse {rt.warehouse.location}")
    result = _verdict(result, ref, info.version, tests, floor)
    rt.catalog.record_gate(
        ref.canonical,
        info.version,
        GateStatus.PASSED if result.success else GateStatus.FAILED,
        result.to_dict() | {"suite": origin, "row_floor": floor.to_dict()},
        actor=actor.name,
        launched_by=actor.launched_by,
    )
    return GateOutcome(ref, info.version, result, origin, floor)


def gate_source_for(warehouse: Warehouse, ref: TableRef, version: int) -> GateSource:
    """The gate's datasource by warehouse kind: the DuckDB file, or BigQuery through its client."""
    if warehouse.kind == WarehouseKind.DUCKDB and warehouse.path is not None:
        return DuckDBGateSource(Path(warehouse.path))
    from orchestration.gates.bigquery_datasource import BigQueryGateSource
    from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse

    if isinstance(warehouse, BigQueryWarehouse):
        return BigQueryGateSource.of(warehouse, ref, version)
    raise ConfigError(
        f"{ref.canonical} cannot be gated on {warehouse.location}: the Great Expectations gates "
        f"run on a DuckDB file or on BigQuery, not on {warehouse.kind.value}; nothing was recorded",
        details={"table": ref.canonical, "warehouse": warehouse.location},
    )


def run_drift_check(
    rt: Runtime, ref: TableRef, version: int | None = None
) -> tuple[int, DriftReport]:
    svc = rt.service()
    info = svc.version(ref.canonical, version)
    report = svc.drift(rt.catalog.get_table(ref.canonical), info)
    rt.catalog.record_drift(ref.canonical, info.version, report.to_dict())
    return info.version, report


def _verdict(
    result: GateResult,
    ref: TableRef,
    version: int,
    tests: tuple[DbtTestResult, ...],
    floor: RowFloor,
) -> GateResult:
    """The suite's result with the policy's verdict over it and the dbt tests."""
    summary = result.message
    if summary and _floor_failed(result, floor):
        summary += (
            f"; row floor: v{version} may have at most {floor.max_row_drop * 100:g}% fewer "
            f"rows than ACTIVE v{floor.active_version} ({floor.active_row_count:,} rows), so "
            f"at least {floor.minimum:,}; if the drop is expected, raise max_row_drop for "
            f"{ref.canonical} in $SPYNE_HOME/policies/publishing.yaml"
        )
    facts = GateFacts(ref.canonical, version, result.success, summary, tests)
    decision = decide_gate(facts)
    message = summary if decision.allowed else decision.message
    return replace(result, success=decision.allowed, message=message, dbt_tests=tests)


def _floor_failed(result: GateResult, floor: RowFloor) -> bool:
    return floor.minimum > 0 and any(
        o.expectation_type == ROW_COUNT_EXPECTATION
        and (o.expected or {}).get("min_value") == floor.minimum
        for o in result.failures
    )


def _not_found(rt: Runtime, ref: TableRef, info: VersionInfo, problem: str) -> NotFound:
    physical = f"{ref.shadow_schema}.{ref.version_identifier(info.version)}"
    return NotFound(
        f"{ref.canonical} v{info.version} ({physical}) {problem}, so it cannot be gated; "
        "nothing was recorded. Rebuild the table (materialize its shadow asset, or run "
        "`spyne demo` on a new install) and gate the new version, or point "
        "SPYNE_WAREHOUSE_PATH at the warehouse that holds it",
        details={
            "table": ref.canonical,
            "version": info.version,
            "physical_table": physical,
            "warehouse": rt.warehouse.location,
        },
    )
