"""`spyne alerts list` and `spyne alerts ack` on a real install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.catalog.notifications import NewAlert
from orchestration.cli import app
from orchestration.runtime import runtime
from policies.alerts import AlertKind, AlertSeverity
from policies.roles import Role

runner = CliRunner()


def test_list_and_ack(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = runtime().catalog
    _, admin_key = catalog.create_principal("alice", Role.ADMIN, "test")
    _, viewer_key = catalog.create_principal("vic", Role.VIEWER, "test")
    opened = catalog.notifications.raise_alert(
        NewAlert(AlertKind.RUN_FAILURE, AlertSeverity.CRITICAL, "run-1", "run run-1 failed", {}),
        ["log"],
        "dagster",
    )
    catalog.notifications.raise_alert(
        NewAlert(AlertKind.DRIFT, AlertSeverity.WARNING, "erp.res_partner", "drift", {}),
        ["log"],
        "dagster",
    )
    catalog.notifications.close("drift:erp.res_partner", "dagster", "cleared")

    monkeypatch.setenv("SPYNE_API_KEY", viewer_key)
    result = runner.invoke(app, ["alerts", "list"])
    assert result.exit_code == 1 and "[permission_denied]" in result.output
    result = runner.invoke(app, ["alerts", "ack", str(opened.notification.id)])
    assert result.exit_code == 1 and "[permission_denied]" in result.output

    monkeypatch.setenv("SPYNE_API_KEY", admin_key)
    result = runner.invoke(app, ["alerts", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [(a["kind"], a["status"]) for a in json.loads(result.output)] == [
        ("drift", "closed"),
        ("run_failure", "open"),
    ]
    result = runner.invoke(app, ["alerts", "list", "--open", "--json"])
    assert [a["id"] for a in json.loads(result.output)] == [opened.notification.id]
    result = runner.invoke(app, ["alerts", "list", "--open"])
    assert result.exit_code == 0 and "run run-1 failed" in result.output

    result = runner.invoke(app, ["alerts", "ack", str(opened.notification.id)])
    assert result.exit_code == 0, result.output
    assert "acknowledged by alice" in result.output
    result = runner.invoke(app, ["alerts", "ack", str(opened.notification.id)])
    assert result.exit_code == 1 and "already acknowledged by alice" in result.output
    result = runner.invoke(app, ["alerts", "ack", "424242"])
    assert result.exit_code == 1 and "[not_found]" in result.output
    (listed,) = json.loads(runner.invoke(app, ["alerts", "list", "--open", "--json"]).output)
    assert listed["acked_by"] == "alice"
    refused = catalog.list_audit(action="ack_alert")
    assert refused and refused[0].outcome.value == "refused" and refused[0].actor == "vic"
