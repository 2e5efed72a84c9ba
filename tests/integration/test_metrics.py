"""Prometheus metrics counted from the catalog: scraped over HTTP on loopback and parsed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, timedelta
from pathlib import Path

import duckdb
from prometheus_client.parser import text_string_to_metric_families

from orchestration.alerts.metrics import serve
from orchestration.catalog import Catalog
from orchestration.catalog.notifications import NewAlert
from orchestration.identity import Actor
from orchestration.runtime import runtime
from orchestration.sample.generator import generate
from orchestration.sensors.event_time import ingestion_lags
from policies.alerts import AlertKind, AlertSeverity
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

PARTNERS = TableRef(Layer.BRONZE, "res_partner")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _facts(catalog: Catalog, home: Path) -> None:
    rt = runtime()
    admin, _ = catalog.create_principal("ada", Role.ADMIN, "test")
    runner, _ = catalog.create_principal("dagster", Role.ENGINEER, "ada")
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=20)
    svc = rt.service()
    for gate in ("failed", "passed"):
        info, _ = svc.ingest(Actor(runner), PARTNERS, rt.source_path, "res_partner", None)
        catalog.record_gate(PARTNERS.canonical, info.version, gate, actor="dagster")
    svc.promote(Actor(admin), PARTNERS.canonical, 2)
    catalog.source_drift.record("erp.res_partner", "v1", "BREAKING", "a", {}, "x")
    catalog.source_drift.record("erp.res_partner", "v1", "ADDITIVE", "b", {}, "x")
    catalog.notifications.raise_alert(
        NewAlert(AlertKind.DRIFT, AlertSeverity.INFO, "erp.res_partner", "t", {}), ["log"], "x"
    )


def test_metrics_are_counted_from_the_catalog(installed_home: Path) -> None:
    catalog = runtime().catalog
    _facts(catalog, installed_home)
    rows = catalog.get_version(PARTNERS.canonical, 1).row_count

    server = serve(catalog, 0)
    try:
        got = scrape(f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert (
        got[
            (
                "spyne_drift_detected_total",
                (("contract", "erp.res_partner"), ("severity", "BREAKING")),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "spyne_drift_detected_total",
                (("contract", "erp.res_partner"), ("severity", "ADDITIVE")),
            )
        ]
        == 1
    )
    assert got[("spyne_drift_resolved_total", ())] == 1
    assert got[("spyne_gate_failures_total", (("table", "bronze.res_partner"),))] == 1
    assert (
        got[("spyne_table_promotions_total", (("from_state", "SHADOW"), ("to_state", "ACTIVE")))]
        == 1
    )
    assert (
        got[
            (
                "spyne_ingestion_rows_total",
                (("contract", "bronze.res_partner"), ("status", "failed")),
            )
        ]
        == rows
    )
    assert (
        got[
            (
                "spyne_ingestion_rows_total",
                (("contract", "bronze.res_partner"), ("status", "passed")),
            )
        ]
        == rows
    )
    assert got[("spyne_alerts_open", (("kind", "drift"),))] == 1
    assert got[("spyne_alerts_open", (("kind", "run_failure"),))] == 0
    # nothing was replayed or backfilled (tests/integration/test_ingest_replay.py counts real
    # ones); the lag needs the warehouse (below)
    assert got[("spyne_replay_count_total", ())] == 0
    names = {name for name, _ in got}
    assert not names & {"spyne_backfill_rows_total", "spyne_ingestion_lag_seconds"}

    # the ingestion lag: now minus the newest event time landed, per contract (event time)
    rt = runtime()
    with duckdb.connect(str(rt.warehouse.path), read_only=True) as con:
        row = con.execute("SELECT max(write_date) FROM bronze.res_partner").fetchone()
        assert row is not None
        newest = row[0].replace(tzinfo=UTC)
    now = newest + timedelta(hours=5)
    server = serve(catalog, 0, lambda: ingestion_lags(catalog, rt.warehouse, now))
    try:
        lagged = scrape(f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    lag = {k[1]: v for k, v in lagged.items() if k[0] == "spyne_ingestion_lag_seconds"}
    assert lag == {(("contract", "erp_res_partner"),): 5 * 3600.0}  # the only ACTIVE one

    def busy() -> dict[str, float]:
        raise RuntimeError("Could not set lock on file")

    server = serve(catalog, 0, busy)
    try:
        assert scrape(f"http://127.0.0.1:{server.server_port}/metrics") == got
    finally:
        server.shutdown()
        server.server_close()

    # another process (a fresh catalog handle, as after a restart) counts the same
    again = Catalog(catalog.url)
    server = serve(again, 0)
    try:
        assert scrape(f"http://127.0.0.1:{server.server_port}/metrics") == got
    finally:
        server.shutdown()
        server.server_close()
        again.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_spyne_metrics_serve_on_loopback(installed_home: Path) -> None:
    catalog = runtime().catalog
    _, key = catalog.create_principal("eve", Role.ENGINEER, "test")
    _, viewer = catalog.create_principal("vic", Role.VIEWER, "test")
    port = _free_port()
    spyne = [str(Path(sys.executable).parent / "spyne")]
    refused = subprocess.run(
        [*spyne, "metrics", "serve", "--port", str(port)],
        env={**os.environ, "SPYNE_API_KEY": viewer},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "[permission_denied]" in refused.stderr
    proc = subprocess.Popen(
        [*spyne, "metrics", "serve", "--port", str(port)],
        env={**os.environ, "SPYNE_API_KEY": key},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        got = None
        while got is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                got = scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                time.sleep(0.2)
        assert got is not None, proc.stderr.read() if proc.stderr else ""
        assert got[("spyne_alerts_open", (("kind", "gate_failure"),))] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
