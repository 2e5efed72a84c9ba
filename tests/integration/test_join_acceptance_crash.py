"""kill -9 at random instants of `spyne joins accept`: whatever was interrupted, the next command
finds the dbt files and the catalog agreeing (no pending acceptance, no half-written file, the
yml's latest version is the catalog's ACTIVE one, every listed version has its SQL and its gate
suite, and no unlisted version has either).

Acceptances run in forked children (no import cost per kill); the parent kills each at a random
instant, then settles as any next `spyne joins` command does and checks every invariant.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestration.identity import current_actor
from orchestration.joins import codegen, gate_suite
from orchestration.joins.acceptance import INTERRUPTED, accept, settle
from orchestration.joins.review import discover_on_platform
from orchestration.runtime import build_runtime
from policies.modes import SystemMode
from policies.roles import Role
from tests.integration.test_join_acceptance import (
    CUSTOMERS,
    MODEL,
    ORDERS,
    SILVER_MODELS,
    _publish,
    project_copy,
)

pytestmark = pytest.mark.slow
KILLS = 30


def _accept_forever(key: str, candidate: str, project: Path, seed: int) -> None:
    rng = random.Random(seed)
    rt = build_runtime()
    admin = current_actor(rt.catalog, key)
    while True:
        join_type = rng.choice(["left", "inner"])
        found = rt.catalog.joins.get(candidate)
        if found.status == "accepted":
            rt.catalog.joins.decide(candidate, "open", "root", "again", allowed_from=("accepted",))
        try:
            accept(
                rt.catalog, rt.warehouse, admin, candidate, "why", join_type, project,
                project.parent / "expectations",
            )  # fmt: skip
        except Exception:  # the same join type twice: refused, try the other
            continue


def _wait_for_pending(probe: sa.Engine, deadline: float) -> None:
    pending = sa.text("select count(*) from accepted_joins where state = 'pending'")
    while time.monotonic() < deadline:
        with probe.connect() as con:
            if con.execute(pending).scalar():
                return
        time.sleep(0.001)


def _check(project: Path) -> tuple[int, int]:
    """Settle, check the invariants; returns (versions on disk, acceptances settled now)."""
    rt = build_runtime()
    try:
        suites = project.parent / "expectations"
        settled = settle(rt.catalog, project, "root", suites)
        rows = rt.catalog.joins.accepted(MODEL)
        assert all(r.state != "pending" for r in rows)
        assert codegen.leftovers(project) == [] and gate_suite.leftovers(suites) == []
        on_disk = codegen.versions_in(codegen.read_model(project, MODEL))
        active = [r.version for r in rows if r.state == "ACTIVE"]
        if on_disk:
            model = codegen.read_model(project, MODEL)
            assert model is not None and active == [model["latest_version"]]
        else:
            assert active == []
        for r in rows:
            listed = r.version in on_disk
            assert listed == (r.deprecation_reason != INTERRUPTED), r
            assert codegen.sql_path(project, MODEL, r.version).exists() == listed, r
            assert gate_suite.suite_file(MODEL, r.version, suites).exists() == listed, r
        for version in on_disk:
            assert codegen.sql_path(project, MODEL, version).exists()
            assert gate_suite.suite_file(MODEL, version, suites).exists()
        return len(on_disk), len(settled)
    finally:
        rt.catalog.dispose()


def test_kill_9_during_acceptance_leaves_files_and_catalog_agreeing(
    installed_home: Path, tmp_path: Path
) -> None:
    rt = build_runtime()
    _, key = rt.catalog.create_principal("root", Role.ADMIN, created_by="test")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "root")
    admin = current_actor(rt.catalog, key)
    for ref in (CUSTOMERS, ORDERS):
        _publish(rt, admin, ref, SILVER_MODELS[ref.name])
    (candidate,) = discover_on_platform(
        rt.catalog, rt.warehouse, admin, min_confidence=0.5
    ).candidates
    probe = sa.create_engine(rt.settings.catalog_url)
    rt.catalog.dispose()
    project = project_copy(tmp_path)
    rng = random.Random(7)
    mid_way = 0
    for kill in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child acts until it is killed
            try:
                _accept_forever(key, candidate.id, project, kill)
            finally:
                os._exit(1)
        if kill % 2:
            time.sleep(rng.uniform(0.2, 1.5))  # anywhere
        else:  # inside the window: once the intent is recorded, a little later or at once
            _wait_for_pending(probe, deadline=time.monotonic() + 20)
            time.sleep(rng.uniform(0, 0.01))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        mid_way += _check(project)[1]
    probe.dispose()
    versions, _ = _check(project)
    assert versions >= 2, "kills landed after some acceptances finished"
    assert mid_way >= 3, "kills landed between an acceptance's intent and its end"
