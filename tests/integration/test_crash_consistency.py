"""kill -9 at random instants of promote, rollback, publish, deprecate and restore: whatever was
interrupted, the next command finds the canonical views and the catalog agreeing.

Acts run in forked children (no import cost per kill, so hundreds of kills take seconds); the
parent kills each child at a random instant and then does what any next command does (settle
interrupted acts) and checks every invariant: each view shows the catalog's ACTIVE version,
history and audit record the same acts, the audit chain holds, nothing is left pending.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestration.identity import Actor
from orchestration.runtime import Runtime, build_runtime
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

pytestmark = pytest.mark.slow
TABLES = [TableRef(Layer.GOLD, "alpha"), TableRef(Layer.GOLD, "beta")]
ACTS = {"promote", "auto_publish", "rollback", "deprecate", "restore"}
MIN_KILLS_IN_WINDOW = 100
MAX_ATTEMPTS = 600


def _install(home: Path) -> None:
    from orchestration.install import init

    init()
    rt = build_runtime()
    admin, _ = rt.catalog.create_principal("root", Role.ADMIN, created_by="test")
    runner, _ = rt.catalog.create_principal("dagster", Role.ENGINEER, created_by="root")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "root")
    svc = rt.service()
    for ref in TABLES:
        for _ in range(3):
            version = svc.allocate_version(Actor(runner), ref)
            rt.warehouse.create_version(ref, version, f"select range as id from range({version})")
            svc.register_build(Actor(runner), ref, version, None)
            rt.catalog.record_gate(ref.canonical, version, "passed", actor="dagster")
        svc.promote(Actor(admin), ref.canonical, 1)
    rt.catalog.dispose()


def _act_forever(seed: int) -> None:
    """The child: acts on the tables until it is killed."""
    rng = random.Random(seed)
    rt = build_runtime()
    svc = rt.service()
    people = {p.name: p for p in rt.catalog.list_principals()}
    admin, runner = Actor(people["root"]), Actor(people["dagster"], "schedule:daily")
    while True:
        ref = rng.choice(TABLES)
        table = rt.catalog.get_table(ref)
        try:
            if table.state == TableState.DEPRECATED:
                svc.restore(admin, ref.canonical)
            elif rng.random() < 0.1:
                svc.deprecate(admin, ref.canonical, "crash test")
            elif table.active_version == 3:
                svc.rollback(admin, ref.canonical, rng.choice([1, 2]))
            elif rng.random() < 0.5:
                svc.publish_automatic(runner, ref.canonical)
            else:
                svc.promote(admin, ref.canonical, rng.randint(table.active_version or 0, 2) + 1)
        except SpyneError:
            pass


def _check(rt: Runtime) -> None:
    for ref in TABLES:
        table = rt.catalog.get_table(ref)
        assert rt.warehouse.view_version(ref) == table.visible_version, (ref, table)
        history = rt.catalog.history(ref)
        assert history[-1].to_state == table.state
        assert history[-1].to_version == table.active_version
        audited = Counter(
            e.action
            for e in rt.catalog.list_audit(limit=100_000, target=ref.canonical)
            if e.outcome.value == "allowed" and e.action in ACTS
        )
        assert sum(audited.values()) == len(history), "every committed act has one audit entry"
    assert rt.catalog.pending_intents() == []
    verdict = rt.catalog.verify_audit()
    assert verdict.ok, verdict


def test_kill_9_at_any_instant_leaves_views_and_catalog_agreeing(installed_home: Path) -> None:
    _install(installed_home)
    rng = random.Random(20261130)
    in_window = attempts = 0
    while in_window < MIN_KILLS_IN_WINDOW:
        attempts += 1
        assert attempts <= MAX_ATTEMPTS, f"only {in_window} kills landed mid-act"
        seed = rng.randrange(2**32)
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                _act_forever(seed)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.02, 0.25))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        rt = build_runtime()  # "the next command"
        try:
            interrupted = rt.catalog.pending_intents()
            in_window += bool(interrupted)
            settled = rt.service().settle("test")
            assert len(settled) == len(interrupted)
            _check(rt)
        finally:
            rt.catalog.dispose()
    print(f"{attempts} kills, {in_window} between intent and done")


def _publishing(catalog_file: Path) -> bool:
    """A run's publish has recorded its intent and not finished (read-only, beside the run)."""
    import sqlite3

    with sqlite3.connect(f"file:{catalog_file}?mode=ro", uri=True, timeout=5) as con:
        row = con.execute(
            "select count(*) from intents where status = 'pending' and action = 'auto_publish'"
        ).fetchone()
    return bool(row[0])


def test_a_dagster_run_killed_while_it_publishes_leaves_nothing_inconsistent(
    installed_home: Path,
) -> None:
    from dagster import AssetKey, DagsterInstance

    from orchestration.definitions import defs

    ref = TableRef(Layer.GOLD, "daily_sales")
    rt = build_runtime()
    admin_p, _ = rt.catalog.create_principal("root", Role.ADMIN, created_by="test")
    runner_p, service_key = rt.catalog.create_principal("dagster", Role.ENGINEER, created_by="root")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "root")
    svc = rt.service()
    for version in (1, 2):
        assert svc.allocate_version(Actor(runner_p), ref) == version
        rt.warehouse.create_version(ref, version, f"select {version} as day_count")
        svc.register_build(Actor(runner_p), ref, version, None)
        rt.catalog.record_gate(ref.canonical, version, "passed", actor="dagster")
    svc.promote(Actor(admin_p), ref.canonical, 1)
    rt.catalog.dispose()
    job = defs.resolve_job_def("gold_layer")
    catalog_file = installed_home / "catalog.db"

    rng = random.Random(7)
    in_window = 0
    for _ in range(12):
        pid = os.fork()
        if pid == 0:
            try:
                os.environ["SPYNE_SERVICE_KEY"] = service_key
                child = build_runtime()
                admin = Actor(next(p for p in child.catalog.list_principals() if p.name == "root"))
                while True:
                    if child.catalog.get_table(ref).active_version == 2:
                        child.service().rollback(admin, ref.canonical, 1)
                    job.execute_in_process(
                        instance=DagsterInstance.ephemeral(),
                        asset_selection=[AssetKey(["gold", "daily_sales"])],
                        raise_on_error=False,
                        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                    )
            finally:
                os._exit(0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _publishing(catalog_file):
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.004))  # somewhere between the intent and done
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        rt = build_runtime()
        try:
            in_window += bool(rt.catalog.pending_intents())
            rt.service().settle("test")
            table = rt.catalog.get_table(ref)
            assert rt.warehouse.view_version(ref) == table.visible_version
            assert rt.catalog.pending_intents() == []
            assert rt.catalog.verify_audit().ok
        finally:
            rt.catalog.dispose()
    assert in_window >= 6, f"only {in_window} of 12 kills landed inside the publish"
