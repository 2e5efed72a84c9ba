"""Spyne's main job on the embedded default: sample source -> bronze -> silver -> gold, gated.

The demo acts as the local admin, and says so as it goes: it enables ingestion (audited), runs
each layer's job through Dagster (build, gates, publish), then promotes the first versions that
passed their gates — a table's first promotion is always a person's act, so Spyne's own runs
leave them waiting for an admin. Later runs publish automatically where the policy allows it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dagster import DagsterInstance
from dagster._core.utils import make_new_run_id

from orchestration.dagster_instance import dagster_instance, run_job, workspace_location
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

# The demo prints its own account; Dagster's step logs stay in the run history (UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class LayerReport:
    layer: str
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)  # canonical name -> ACTIVE row count
    blocked: dict[str, str] = field(default_factory=dict)  # canonical name -> reason
    promoted: list[str] = field(default_factory=list)  # first promotions done by the demo
    run_id: str | None = None


@dataclass
class DemoReport:
    layers: list[LayerReport]
    warehouse: str
    source: str
    seconds: float
    admin: str
    new_admin_key: str | None
    run_ids: list[str]
    log_path: str

    @property
    def ok(self) -> bool:
        return all(not layer.blocked for layer in self.layers) and all(
            layer.tables for layer in self.layers
        )


class DemoObserver(Protocol):
    """What a front end (the CLI's Rich display) hears as the demo goes."""

    def note(self, message: str) -> None: ...
    def layer_started(self, layer: str, tables: int) -> None: ...
    def layer_step(self, layer: str, message: str) -> None: ...
    def layer_finished(self, report: LayerReport) -> None: ...


class Silent:
    def note(self, message: str) -> None:
        pass

    def layer_started(self, layer: str, tables: int) -> None:
        pass

    def layer_step(self, layer: str, message: str) -> None:
        pass

    def layer_finished(self, report: LayerReport) -> None:
        pass


def _promote_pending(rt: Runtime, admin: Actor, layer: Layer, report: LayerReport) -> None:
    """Promote, as the admin, every first version of the layer that waits for it."""
    svc = rt.service()
    for table in rt.catalog.list_tables():
        if table.layer != layer:
            continue
        if table.state == TableState.SHADOW:
            try:
                svc.promote(admin, table.name)
                report.promoted.append(table.name)
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


def _accept_joins(rt: Runtime, admin: Actor, say: DemoObserver) -> None:
    """The sample's true joins, accepted as the local admin: the reviewed models of models/joins."""
    from orchestration.environment import DBT_PROJECT_DIR
    from orchestration.joins.acceptance import accept_reviewed

    for done in accept_reviewed(rt.catalog, rt.warehouse, admin, DBT_PROJECT_DIR):
        say.layer_step(
            Layer.JOINS.value,
            f"accepted {done.model_name} v{done.version} as {admin.name} "
            f"(`spyne joins accept {done.candidate_id}`)",
        )


def run_demo(
    lines: int = 5000,
    seed: int = 42,
    observer: DemoObserver | None = None,
    instance: DagsterInstance | None = None,
) -> DemoReport:
    from orchestration.assets.project import tables_in
    from orchestration.definitions import LAYER_JOBS

    say = observer or Silent()
    started = time.monotonic()
    installed = init()  # a brand-new local install is created; an existing one is only checked
    if installed.created_catalog:
        say.note(f"New install in {installed.home} (catalog, warehouse): `spyne init`.")
    rt = runtime()
    principal, new_key = demo_admin(rt.catalog, Path(rt.settings.home))
    admin = Actor(principal)
    rt.service().settle(admin.name)
    rt.require(admin, Operation.GENERATE_SAMPLE, "sample_source")
    # The tour regenerates its own sample source each time (a real source is never overwritten
    # without --force: see `spyne sample generate`).
    summary = generate(rt.source_path, lines=lines, seed=seed, overwrite=True)
    say.note(
        f"Sample ERP source written ({lines:,} order lines, seed {seed}): {summary.path}. "
        "Spyne only reads it (READ_ONLY)."
    )
    say.note(
        f"Acting as the local admin {admin.name}"
        + (
            " (created now, as this install had no admin; its key is in $SPYNE_HOME/admin.key)."
            if new_key
            else " (key from SPYNE_API_KEY or $SPYNE_HOME/admin.key)."
        )
    )
    if rt.catalog.current_mode().mode != SystemMode.INGESTION_READY:
        rt.service().set_mode(
            admin, SystemMode.INGESTION_READY, "demo: land the local sample source"
        )
        say.note(
            "System mode READ_ONLY → INGESTION_READY, so ingestion may land the source (audited)."
        )
    say.note(
        "Each layer runs as a Dagster job: build new versions, gate them, publish what the policy "
        f"allows. First versions wait for an admin: the demo, acting as {admin.name}, promotes them."
    )
    instance = instance or dagster_instance(rt.settings)
    reports: list[LayerReport] = []
    log_dir = Path(rt.settings.home) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "demo.log"
    with workspace_location(instance) as location:
        for layer, job_name in LAYER_JOBS.items():
            layer_started = time.monotonic()
            report = LayerReport(layer.value)
            say.layer_started(layer.value, len(tables_in(layer)))
            if layer == Layer.JOINS:
                _accept_joins(rt, admin, say)
            say.layer_step(layer.value, f"build, gates, publish (Dagster job {job_name})")
            # dbt's console output goes to the log file; the demo prints a summary instead.
            # The run acts as the admin who launched it, proven by a grant bound to its id.
            run_id = make_new_run_id()
            tags = launch_tags(rt.catalog, principal, run_id)
            with log_path.open("a") as log, contextlib.redirect_stdout(log):
                run = run_job(instance, location, job_name, QUIET, run_id=run_id, tags=tags)
            report.run_id = run.run_id
            say.layer_step(layer.value, f"promoting first versions as {admin.name}")
            _promote_pending(rt, admin, layer, report)
            report.seconds = time.monotonic() - layer_started
            if not run.is_success and not report.blocked:
                report.blocked[layer.value] = (
                    f"run {run.run_id} failed; open the Dagster UI (`spyne ui`) for its logs"
                )
            reports.append(report)
            say.layer_finished(report)
            if report.blocked:
                break
    return DemoReport(
        layers=reports,
        warehouse=rt.warehouse.location,
        source=str(rt.source_path),
        seconds=time.monotonic() - started,
        admin=admin.name,
        new_admin_key=new_key,
        run_ids=[r.run_id for r in reports if r.run_id],
        log_path=str(log_path),
    )
