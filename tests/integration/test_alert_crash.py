"""kill -9 in the middle of a delivery: the alert is recorded whole, and delivered later.

A process raises an alert whose webhook receiver holds the request open; the test kills it with
SIGKILL while the POST is in flight. The notification, its pending delivery and its audit entry
were committed together before any sending, so the catalog holds one open alert, the audit chain
holds, and the next delivery round sends it (at least once: the receiver may see it twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestration.alerts.service import Alerts
from orchestration.catalog import Catalog
from orchestration.catalog.notifications import NewAlert
from policies.alerts import AlertKind, AlertPolicy, AlertSeverity
from tests.catalog_support import CatalogUrls

REPO = Path(__file__).resolve().parents[2]
POLICY = {
    "channels": {"ops": {"type": "webhook", "url_env": "OPS_URL", "secret_env": "OPS_SECRET"}},
    "routes": [{"channels": ["ops"]}],
    "default_channels": ["ops"],
    "delivery": {"attempts": 1, "retry_after_seconds": 1},
}
RAISE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from orchestration.alerts.service import Alerts
    from orchestration.catalog import Catalog
    from orchestration.catalog.notifications import NewAlert
    from policies.alerts import AlertKind, AlertPolicy, AlertSeverity
    from tests.integration.test_alert_crash import POLICY
    catalog = Catalog(sys.argv[1])
    alerts = Alerts(catalog, AlertPolicy.from_mapping(POLICY), Path(sys.argv[2]), "dagster")
    alerts.raise_alert(
        NewAlert(AlertKind.RUN_FAILURE, AlertSeverity.CRITICAL, "nightly", "run failed", {})
    )
    """
)


class Hold:
    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.hits = 0
        self.url = ""


@pytest.fixture
def holding_receiver() -> Iterator[Hold]:
    hold = Hold()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hold.hits += 1
            hold.arrived.set()
            hold.release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hold.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hold
    finally:
        hold.release.set()
        server.shutdown()
        server.server_close()


def test_kill_9_during_delivery_leaves_one_whole_alert_delivered_later(
    catalog_urls: CatalogUrls, catalog: Catalog, holding_receiver: Hold, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "OPS_URL": holding_receiver.url,
        "OPS_SECRET": "s",
        "PYTHONPATH": str(REPO),
        "NO_PROXY": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", RAISE, catalog_urls.url, str(tmp_path)], env=env, cwd=REPO
    )
    try:
        assert holding_receiver.arrived.wait(60), "the webhook was never called"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    (alert,) = catalog.notifications.all()
    assert alert.open and alert.condition_key == "run_failure:nightly"
    (delivery,) = catalog.notifications.deliveries(alert.id)
    assert delivery.status == "pending" and delivery.attempts == 0
    assert [e.action for e in catalog.list_audit()] == ["alert_opened"]
    assert catalog.verify_audit().ok

    holding_receiver.release.set()
    alerts = Alerts(
        catalog,
        AlertPolicy.from_mapping(POLICY),
        tmp_path,
        "dagster",
        environ={"OPS_URL": holding_receiver.url, "OPS_SECRET": "s"},
    )
    again = alerts.raise_alert(
        NewAlert(AlertKind.RUN_FAILURE, AlertSeverity.CRITICAL, "nightly", "run failed", {})
    )
    assert not again.opened  # the same condition: no second alert
    (delivery,) = catalog.notifications.deliveries(alert.id)
    assert delivery.status == "delivered"
    assert holding_receiver.hits == 2  # at least once: the killed process's try, then this one
