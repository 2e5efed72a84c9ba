"""Spyne's main job on the embedded default: sample source -> bronze -> silver -> gold, gated.

The demo acts as the local admin: it enables ingestion (audited), runs each layer's build and
gates through Dagster, and explicitly promotes first versions that passed their gates (the
first promotion of a table is always an admin act). Later runs publish automatically where
the policy allows it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.utils import make_new_run_id

from orchestration.dagster_instance import dagster_instance
from orchestration.identity import Actor, demo_admin
from orchestration.install import init
from orchestration.run_identity import launch_tags
from orchestration.runtime import Runtime, runtime
from orchestration.sample.generator import generate
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer
from policies.roles import Operation

# The demo prints its own summary; Dagster's step logs stay in the run history (UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class LayerReport:
    layer: str
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)  # canonical name -> ACTIVE row count
    blocked: dict[str, str] = field(default_factory=dict)  # canonical name -> reason


@dataclass
class DemoReport:
    layers: list[LayerReport]
    warehouse: str
    source: str
    seconds: float
    new_admin_key: str | None
    run_ids: list[str]
    log_path: str

    @property
    def ok(self) -> bool:
        return all(not layer.blocked for layer in self.layers) and all(
            layer.tables for layer in self.layers
        )


def _promote_pending(rt: Runtime, admin: Actor, layer: Layer, report: LayerReport) -> None:
    svc = rt.service()
    for table in rt.catalog.list_tables():
        if table.layer != layer:
            continue
        if table.state == TableState.SHADOW:
            try:
                svc.promote(admin, table.name)
            except SpyneError as err:
                report.blocked[table.name] = err.message
        refreshed = rt.catalog.get_table(table.name)
        if refreshed.state == TableState.ACTIVE and refreshed.active_version is not None:
            report.tables[table.name] = rt.catalog.get_version(
                table.name, refreshed.active_version
            ).row_count
        elif table.name not in report.blocked:
            report.blocked[table.name] = (
                f"state {refreshed.state}; see `spyne tables history {table.name}`"
            )


def run_demo(
    lines: int = 5000,
    seed: int = 42,
    progress: Callable[[str], None] = lambda _msg: None,
    instance: DagsterInstance | None = None,
) -> DemoReport:
    from orchestration.definitions import LAYER_JOBS, defs

    started = time.monotonic()
    init()  # a brand-new local install is created; an existing one is only checked
    rt = runtime()
    principal, new_key = demo_admin(rt.catalog, Path(rt.settings.home))
    admin = Actor(principal)
    rt.service().settle(admin.name)
    progress(f"generating the sample ERP source ({lines} order lines, seed {seed})")
    rt.service().require(admin, Operation.GENERATE_SAMPLE, "sample_source")
    generate(rt.source_path, lines=lines, seed=seed, overwrite=True)  # the tour regenerates it
    if rt.catalog.current_mode().mode != SystemMode.INGESTION_READY:
        rt.service().set_mode(
            admin, SystemMode.INGESTION_READY, "demo: land the local sample source"
        )
    instance = instance or dagster_instance(rt.settings)
    reports: list[LayerReport] = []
    run_ids: list[str] = []
    log_dir = Path(rt.settings.home) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "demo.log"
    for layer, job_name in LAYER_JOBS.items():
        job = defs.resolve_job_def(job_name)
        layer_started = time.monotonic()
        progress(f"building, gating and publishing {layer.value}")
        # dbt's console output goes to the log file; the demo prints a summary instead.
        run_id = make_new_run_id()
        with log_path.open("a") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=QUIET,
                run_id=run_id,
                tags=launch_tags(rt.catalog, principal, run_id),
            )
        run_ids.append(result.run_id)
        report = LayerReport(layer.value)
        _promote_pending(rt, admin, layer, report)
        report.seconds = time.monotonic() - layer_started
        if not result.success and not report.blocked:
            report.blocked[layer.value] = (
                f"run {result.run_id} failed; open the Dagster UI for its logs"
            )
        reports.append(report)
        if report.blocked:
            break
    return DemoReport(
        layers=reports,
        warehouse=str(rt.warehouse.path),
        source=str(rt.source_path),
        seconds=time.monotonic() - started,
        new_admin_key=new_key,
        run_ids=run_ids,
        log_path=str(log_path),
    )
