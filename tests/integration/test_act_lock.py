"""BigQuery's act lock lives in the catalog: an act in another process holds it until it ends or
dies, and recovery never settles the intent of an act that is still running.

Each test runs on a SQLite catalog (a file lock beside it) and on PostgreSQL (a session-level
advisory lock), with the other act in a forked process killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from orchestration.catalog import Catalog, IntentStatus
from orchestration.identity import Actor
from orchestration.lifecycle.service import TableService
from orchestration.warehouse.act_lock import catalog_act_lock
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.errors import WarehouseBusy
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Role
from tests.catalog_support import open_catalog
from tests.pg import CatalogUrls
from tests.warehouse_support import MAX_BYTES, PROJECT, adapter

REF = TableRef(Layer.GOLD, "kpis")


@contextmanager
def other_process(urls: CatalogUrls, act: Callable[[Catalog], None]) -> Iterator[int]:
    """Run ``act`` in a forked process that then takes the act lock and keeps it until killed."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(ready_r)
            catalog = open_catalog(urls)
            act(catalog)
            with catalog_act_lock(catalog.engine).held():
                os.write(ready_w, b"x")
                time.sleep(600)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x", "the other process did not take the lock"
        yield pid
    finally:
        os.close(ready_r)
        _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # already killed and reaped


def test_an_act_in_another_process_holds_the_lock_until_it_dies(
    catalog: Catalog, catalog_urls: CatalogUrls
) -> None:
    with other_process(catalog_urls, lambda _: None) as pid:
        busy = catalog_act_lock(catalog.engine, wait_seconds=0.3)
        with pytest.raises(WarehouseBusy) as refused, busy.held():
            pass
        assert refused.value.code == "warehouse_busy"
        _kill(pid)  # the server (or the kernel) releases what a dead process held
        with catalog_act_lock(catalog.engine, wait_seconds=10).held():
            pass


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_across_threads(
    catalog: Catalog,
) -> None:
    lock = catalog_act_lock(catalog.engine, wait_seconds=0.3)
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with lock.held():
                outcome.append("acquired")
        except WarehouseBusy:
            outcome.append("busy")

    with lock.held(), lock.held():  # an act settles leftovers under the lock it holds
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["busy"]
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert outcome == ["busy", "acquired"]


def test_recovery_never_settles_the_intent_of_an_act_still_running(
    catalog: Catalog, catalog_urls: CatalogUrls, tmp_path: Path
) -> None:
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    bq = adapter("bigquery", tmp_path, catalog.engine, lock_wait=0.3)
    svc = TableService(catalog, bq.warehouse, PublishingPolicy())
    for version in (1, 2):
        assert svc.allocate_version(Actor(admin), REF) == version
        bq.warehouse.create_version_from_rows(REF, version, pa.table({"id": [version]}))
        svc.register_build(Actor(admin), REF, version, None)
        catalog.record_gate(REF.canonical, version, "passed", actor="ada")
    svc.promote(Actor(admin), REF.canonical, 1)

    def start_promoting(other: Catalog) -> None:  # intent recorded; the act is under way
        with other.transition(REF.canonical) as tx:
            tx.open_intent("promote", 1, 2, "ada")

    with other_process(catalog_urls, start_promoting) as pid:
        with pytest.raises(WarehouseBusy):
            svc.settle("test")
        (pending,) = catalog.pending_intents()
        assert pending.status == IntentStatus.PENDING, "a running act's intent is left alone"
        bq.warehouse.point_view(REF, 2)  # what the running act had done when it died
        _kill(pid)

    # the next command: same project, a lock wait long enough for the server to notice the death
    assert bq.fake is not None
    warehouse = BigQueryWarehouse(
        bq.fake,
        project=PROJECT,
        location="EU",
        max_bytes=MAX_BYTES,
        lock=catalog_act_lock(catalog.engine, wait_seconds=10),
    )
    (settled,) = TableService(catalog, warehouse, PublishingPolicy()).settle("test")
    assert settled.status == IntentStatus.UNDONE
    assert warehouse.view_version(REF) == 1 == catalog.get_table(REF.canonical).active_version
