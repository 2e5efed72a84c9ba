"""Alerts end to end on a real catalog: dedupe, close on clear, ack, delivery to real HTTP servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestration.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from orchestration.alerts.service import Alerts
from orchestration.catalog import Catalog
from orchestration.catalog.audit import now
from orchestration.catalog.notifications import NewAlert
from policies.alerts import AlertKind, AlertPolicy, AlertSeverity
from policies.errors import InvalidTransition, NotFound

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """A loopback HTTP server that fails its first ``fail_first`` requests with HTTP 503."""

    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hits: int = 0
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.hits += 1
            if state.hits <= state.fail_first:
                self.send_response(503)
                self.end_headers()
                return
            state.received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def policy(**delivery: Any) -> AlertPolicy:
    return AlertPolicy.from_mapping(
        {
            "channels": {
                "log": {"type": "log_file", "path": "alerts.log"},
                "ops": {"type": "webhook", "url_env": "OPS_URL", "secret_env": "OPS_SECRET"},
                "slack": {"type": "slack", "url_env": "SLACK_URL"},
            },
            "routes": [
                {"channels": ["log"]},
                {"kinds": ["run_failure"], "min_severity": "critical", "channels": ["ops"]},
                {"kinds": ["freshness"], "channels": ["slack"]},
            ],
            "delivery": {"attempts": 3, "backoff_seconds": 0.25, **delivery},
        }
    )


def alerts(
    catalog: Catalog, home: Path, env: dict[str, str], sleeps: list[float], **delivery: Any
) -> Alerts:
    return Alerts(catalog, policy(**delivery), home, "dagster", "sensor:test", env, sleeps.append)


def run_failed(run_id: str = "run-1") -> NewAlert:
    return NewAlert(
        AlertKind.RUN_FAILURE,
        AlertSeverity.CRITICAL,
        run_id,
        f"run {run_id} of bronze_layer failed",
        {"job": "bronze_layer"},
    )


def test_an_open_condition_pages_once_and_closes_when_it_clears(
    catalog: Catalog, tmp_path: Path
) -> None:
    sleeps: list[float] = []
    a = alerts(catalog, tmp_path, {}, sleeps)
    alert = NewAlert(AlertKind.DRIFT, AlertSeverity.WARNING, "erp.res_partner", "drift", {})
    first = a.raise_alert(alert)
    again = a.raise_alert(alert)
    assert first.opened and not again.opened
    assert again.notification.id == first.notification.id
    assert again.notification.repeats == 1
    lines = (tmp_path / "alerts.log").read_text().splitlines()
    assert len(lines) == 1  # paged once
    assert json.loads(lines[0])["condition_key"] == "drift:erp.res_partner"
    assert [n.id for n in catalog.notifications.all(open_only=True)] == [first.notification.id]

    closed = a.clear(AlertKind.DRIFT, "erp.res_partner", "the source agrees with its contract")
    assert closed is not None and not closed.open and closed.closed_by == "dagster"
    assert a.clear(AlertKind.DRIFT, "erp.res_partner", "again") is None
    assert catalog.notifications.all(open_only=True) == []

    reopened = a.raise_alert(alert)  # the same condition after it cleared is a new alert
    assert reopened.opened and reopened.notification.id != first.notification.id
    assert len((tmp_path / "alerts.log").read_text().splitlines()) == 2
    actions = [e.action for e in catalog.list_audit(target=f"alert:{first.notification.id}")]
    assert actions == ["alert_closed", "alert_opened"]


def test_ack_names_who_and_is_audited_once(catalog: Catalog, tmp_path: Path) -> None:
    a = alerts(catalog, tmp_path, {}, [])
    raised = a.raise_alert(
        NewAlert(AlertKind.GATE_FAILURE, AlertSeverity.WARNING, "silver.orders", "gate", {})
    )
    acked = catalog.notifications.ack(raised.notification.id, "alice")
    assert acked.acked_by == "alice" and acked.acked_at is not None and acked.open
    with pytest.raises(InvalidTransition, match="already acknowledged by alice"):
        catalog.notifications.ack(raised.notification.id, "bob")
    with pytest.raises(NotFound, match="spyne alerts list"):
        catalog.notifications.ack(9999, "bob")
    (entry,) = catalog.list_audit(action="alert_acked")
    assert entry.actor == "alice"


def test_signed_webhook_to_a_server_that_fails_twice_first(
    catalog: Catalog, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    sleeps: list[float] = []
    env = {"OPS_URL": receiver.url, "OPS_SECRET": SECRET}
    raised = alerts(catalog, tmp_path, env, sleeps).raise_alert(run_failed())
    assert receiver.hits == 3
    assert sleeps == [0.25, 0.5]  # doubling backoff between the three tries
    ((headers, body),) = receiver.received
    assert headers[SIGNATURE_HEADER] == sign(SECRET, headers[TIMESTAMP_HEADER], body)
    assert json.loads(body)["id"] == raised.notification.id
    by_channel = {d.channel: d for d in catalog.notifications.deliveries(raised.notification.id)}
    assert set(by_channel) == {"log", "ops"}
    assert by_channel["ops"].status == "delivered" and by_channel["ops"].attempts == 3
    assert by_channel["log"].status == "delivered" and by_channel["log"].attempts == 1


def test_a_failed_delivery_is_kept_and_retried_later(
    catalog: Catalog, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_first = 3  # the whole first round fails
    env = {"OPS_URL": receiver.url, "OPS_SECRET": SECRET}
    a = alerts(catalog, tmp_path, env, [], retry_after_seconds=1)
    raised = a.raise_alert(run_failed())
    ops = next(
        d for d in catalog.notifications.deliveries(raised.notification.id) if d.channel == "ops"
    )
    assert ops.status == "failed" and ops.last_error == "the receiver answered HTTP 503"
    assert ops.next_attempt_at is not None and ops.next_attempt_at > now()
    assert a.deliver() == []  # not due yet
    due = catalog.notifications.due_deliveries(now() + timedelta(seconds=2))
    assert [d.id for d in due] == [ops.id]
    catalog.notifications.settle_delivery(  # make it due now, as a later sensor tick would see it
        ops.id, ok=False, attempts=0, error=ops.last_error, retry_at=now()
    )
    (outcome,) = a.deliver()
    assert outcome.delivery.status == "delivered" and outcome.delivery.rounds == 3
    assert len(receiver.received) == 1


def test_a_missing_secret_fails_the_delivery_by_name_and_gives_up_after_max_rounds(
    catalog: Catalog, tmp_path: Path, receiver: Receiver
) -> None:
    env = {"OPS_URL": receiver.url}
    a = alerts(catalog, tmp_path, env, [], max_rounds=1)
    raised = a.raise_alert(run_failed())
    ops = next(
        d for d in catalog.notifications.deliveries(raised.notification.id) if d.channel == "ops"
    )
    assert ops.status == "given_up"
    assert (
        ops.last_error
        == "the webhook has no signing secret: set the environment variable OPS_SECRET"
    )
    assert receiver.hits == 0


def test_slack_gets_one_line_with_the_ack_command(
    catalog: Catalog, tmp_path: Path, receiver: Receiver
) -> None:
    a = alerts(catalog, tmp_path, {"SLACK_URL": receiver.url}, [])
    raised = a.raise_alert(
        NewAlert(AlertKind.FRESHNESS, AlertSeverity.WARNING, "erp.orders", "orders are late", {})
    )
    ((_, body),) = receiver.received
    text = json.loads(body)["text"]
    assert text.startswith("[WARNING] freshness: orders are late")
    assert f"spyne alerts ack {raised.notification.id}" in text


def test_open_counts_per_kind(catalog: Catalog, tmp_path: Path) -> None:
    a = alerts(catalog, tmp_path, {}, [])
    a.raise_alert(run_failed("r1"))
    a.raise_alert(run_failed("r2"))
    a.raise_alert(NewAlert(AlertKind.DRIFT, AlertSeverity.INFO, "s", "t", {}))
    counts = catalog.notifications.open_counts()
    assert counts["run_failure"] == 2 and counts["drift"] == 1 and counts["freshness"] == 0


def test_the_install_overrides_the_shipped_routing(tmp_path: Path) -> None:
    from orchestration.alerts.routing import load_alert_policy
    from policies.alerts import route
    from policies.errors import ConfigError, ValidationFailed

    assert route(load_alert_policy(tmp_path), AlertKind.DRIFT, AlertSeverity.CRITICAL) == ("log",)
    (tmp_path / "policies").mkdir()
    override = tmp_path / "policies" / "alerts.yaml"
    override.write_text(
        "channels:\n"
        "  ops: {type: webhook, url_env: OPS_URL, secret_env: OPS_SECRET}\n"
        "routes:\n"
        "  - {kinds: [drift], min_severity: critical, channels: [ops]}\n"
        "delivery: {attempts: 5}\n"
    )
    merged = load_alert_policy(tmp_path)
    assert set(merged.channels) == {"log", "ops"}  # the shipped log channel is kept
    assert route(merged, AlertKind.DRIFT, AlertSeverity.CRITICAL) == ("ops",)
    assert route(merged, AlertKind.DRIFT, AlertSeverity.INFO) == ("log",)  # default_channels
    assert merged.delivery.attempts == 5 and merged.delivery.backoff_seconds == 0.5
    override.write_text("routes:\n  - {channels: [pager]}\n")
    with pytest.raises(ValidationFailed, match="not defined: pager"):
        load_alert_policy(tmp_path)
    override.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_alert_policy(tmp_path)


def test_one_pass_stops_starting_deliveries_when_its_budget_is_spent(
    catalog: Catalog, tmp_path: Path, receiver: Receiver
) -> None:
    ticks = iter(range(100))
    env = {"OPS_URL": receiver.url, "OPS_SECRET": SECRET}
    a = Alerts(
        catalog,
        policy(budget_seconds=2),
        tmp_path,
        "dagster",
        environ=env,
        sleep=lambda _s: None,
        clock=lambda: float(next(ticks)),  # each look at the clock is one second later
    )
    for run in ("r1", "r2", "r3"):
        catalog.notifications.raise_alert(run_failed(run), ["ops"], "dagster")
    done = a.deliver()
    assert len(done) == 1  # the budget ran out after the first delivery
    assert len(catalog.notifications.due_deliveries()) == 2
    a.clock = lambda: 0.0
    assert len(a.deliver()) == 2
    assert len(receiver.received) == 3
