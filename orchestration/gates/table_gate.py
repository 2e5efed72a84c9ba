"""Run a table's promotion gates (Great Expectations suite + schema drift) and record the verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.assets.project import node_for, tests_for
from orchestration.gates.runner import GateResult, run_gate
from orchestration.gates.suites import load_suite, suite_from_dbt_node
from orchestration.runtime import Runtime
from policies.drift import DriftReport
from policies.naming import TableRef


@dataclass(frozen=True)
class GateOutcome:
    ref: TableRef
    version: int
    result: GateResult
    suite_source: str  # "expectations/<layer>/<table>.json" or "generated from dbt"


def suite_for(ref: TableRef) -> tuple[Any, str]:
    suite = load_suite(ref.layer.value, ref.name)
    if suite is not None:
        return suite, f"expectations/{ref.layer.value}/{ref.name}.json"
    node = node_for(ref)
    return suite_from_dbt_node(node, tests_for(node["unique_id"])), "generated from dbt"


def run_table_gate(
    rt: Runtime,
    ref: TableRef,
    version: int | None = None,
    dbt_tests: Sequence[Mapping[str, Any]] = (),
) -> GateOutcome:
    """The dbt tests of the build count too: one that failed or errored fails the gate."""
    info = rt.service().version(ref.canonical, version)
    suite, origin = suite_for(ref)
    docs = Path(rt.settings.gx_root)
    result = run_gate(
        Path(rt.warehouse.path),
        ref.shadow_schema,
        ref.version_identifier(info.version),
        suite,
        data_docs_dir=docs,
    )
    failing = [dict(t) for t in dbt_tests if t.get("status") in ("fail", "error")]
    rt.catalog.record_gate(
        ref.canonical,
        info.version,
        "passed" if result.success and not failing else "failed",
        result.to_dict()
        | {"suite": origin, "dbt_tests": [dict(t) for t in dbt_tests], "failed_dbt_tests": failing},
    )
    return GateOutcome(ref, info.version, result, origin)


def run_drift_check(
    rt: Runtime, ref: TableRef, version: int | None = None
) -> tuple[int, DriftReport]:
    svc = rt.service()
    info = svc.version(ref.canonical, version)
    report = svc.drift(rt.catalog.get_table(ref.canonical), info)
    rt.catalog.record_drift(ref.canonical, info.version, report.to_dict())
    return info.version, report
