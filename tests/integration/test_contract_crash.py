"""kill -9 at random instants of contract registrations: a version is registered whole (its row
and its audit entry) or not at all, and the registry and the audit log always agree."""

from __future__ import annotations

import copy
import os
import random
import signal
import time
from pathlib import Path

import pytest
import yaml

from orchestration.ingestion.contracts import contract_files
from orchestration.runtime import build_runtime
from policies.contracts import parse_contract

pytestmark = pytest.mark.slow
CONTRACT = "erp_crash_test"
KILLS = 40


def _register_forever(seed: int) -> None:
    """The child: registers ever higher versions of one contract until it is killed."""
    rng = random.Random(seed)
    rt = build_runtime()
    base = yaml.safe_load(contract_files()[0].read_text(encoding="utf-8"))
    base["id"] = CONTRACT
    while True:
        versions = _versions(rt)
        patch = int(versions[-1].split(".")[2]) + 1 if versions else 0
        doc = copy.deepcopy(base)
        doc["version"] = f"1.0.{patch}"
        doc["customProperties"][0]["value"]["dedupe_window"] = f"{rng.randint(1, 48)}h"
        rt.catalog.contracts.register(parse_contract(doc, "crash"), "eng", "test:crash")


def _versions(rt: object) -> list[str]:
    from policies.errors import NotFound

    try:
        return [v.version for v in rt.catalog.contracts.versions(CONTRACT)]  # type: ignore[attr-defined]
    except NotFound:
        return []


def test_kill_9_mid_registration_leaves_registry_and_audit_agreeing(installed_home: Path) -> None:
    rng = random.Random(20261201)
    registered = 0
    parse_contract(yaml.safe_load(contract_files()[0].read_text(encoding="utf-8")), "warm-up")
    for _ in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                _register_forever(rng.randrange(2**32))
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.3, 0.8))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        rt = build_runtime()  # "the next command"
        try:
            versions = _versions(rt)
            audited = [
                e
                for e in rt.catalog.list_audit(limit=100_000, target=f"contract:{CONTRACT}")
                if e.action == "register_contract" and e.outcome.value == "allowed"
            ]
            assert sorted(e.details["version"] for e in audited) == sorted(versions)
            assert versions == [f"1.0.{n}" for n in range(len(versions))], "no gap, no repeat"
            by_version = {e.details["version"]: e.details["content_hash"] for e in audited}
            for info in rt.catalog.contracts.versions(CONTRACT) if versions else []:
                assert by_version[info.version] == info.content_hash
            verdict = rt.catalog.verify_audit()
            assert verdict.ok, verdict
            registered = len(versions)
        finally:
            rt.catalog.dispose()
    assert registered >= KILLS, f"only {registered} registrations in {KILLS} runs"
