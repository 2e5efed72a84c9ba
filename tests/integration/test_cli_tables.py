"""The documented `spyne tables ...` interface on a real warehouse and catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

runner = CliRunner()
REF = TableRef(Layer.SILVER, "accounts")


def _build(rows: int) -> int:
    from orchestration.identity import current_actor
    from orchestration.runtime import runtime

    rt = runtime()
    svc = rt.service()
    builder = current_actor(rt.catalog, KEYS["eng"])
    version = svc.allocate_version(builder, REF)
    rt.warehouse.create_version(REF, version, f"select range as id from range({rows})")
    svc.register_build(builder, REF, version, None)
    rt.catalog.record_gate(REF.canonical, version, "passed", {"test": True}, actor=builder.name)
    return version


KEYS: dict[str, str] = {}


@pytest.fixture
def keys(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from orchestration.runtime import runtime

    catalog = runtime().catalog
    KEYS.clear()
    for name, role in (("root", Role.ADMIN), ("ana", Role.ANALYST), ("eng", Role.ENGINEER)):
        _, KEYS[name] = catalog.create_principal(name, role, created_by="test")
    catalog.set_mode(SystemMode.INGESTION_READY, "root")
    monkeypatch.setenv("SPYNE_API_KEY", KEYS["root"])
    return KEYS


def _json(args: list[str]) -> object:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tables_promote_dry_run_then_promote_rollback_deprecate_restore(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(3)
    plan = _json(["tables", "promote", REF.canonical, "--dry-run", "--json"])
    assert plan["applied"] is False and plan["to_version"] == 1 and plan["decision"] == "ALLOW"
    listed = _json(["tables", "list", "--json"])
    assert listed == [
        {
            "name": "silver.accounts",
            "layer": "silver",
            "state": "SHADOW",
            "active_version": None,
            "versions_retained": 1,
            "auto_publish": True,
        }
    ]

    # analysts never see SHADOW tables
    monkeypatch.setenv("SPYNE_API_KEY", keys["ana"])
    assert _json(["tables", "list", "--json"]) == []
    denied = runner.invoke(app, ["tables", "history", REF.canonical])
    assert denied.exit_code == 1 and "engineer" in denied.output
    monkeypatch.setenv("SPYNE_API_KEY", keys["root"])

    assert _json(["tables", "promote", REF.canonical, "--json"])["applied"] is True
    _build(5)
    assert (
        _json(["tables", "promote", REF.canonical, "--version", "2", "--json"])["to_version"] == 2
    )
    rolled = _json(["tables", "rollback", REF.canonical, "--json"])
    assert (rolled["from_version"], rolled["to_version"]) == (2, 1)

    result = runner.invoke(
        app, ["tables", "deprecate", REF.canonical, "--reason", "replaced by silver.ledger"]
    )
    assert result.exit_code == 0 and "DEPRECATED" in result.output
    refused = runner.invoke(app, ["tables", "promote", REF.canonical])
    assert (
        refused.exit_code == 1
        and "invalid_transition" in refused.output
        and "DEPRECATED" in refused.output
    )
    result = runner.invoke(app, ["tables", "restore", REF.canonical])
    assert result.exit_code == 0 and "ACTIVE" in result.output

    history = _json(["tables", "history", REF.canonical, "--json"])
    assert [t["transition"] for t in history["transitions"]] == [
        "promote",
        "promote",
        "rollback",
        "deprecate",
        "restore",
    ]
    assert [v["version"] for v in history["versions"]] == [1, 2]
    audit = _json(["audit", "--json", "--limit", "100"])
    actions = {(e["action"], e["outcome"]) for e in audit}
    assert {
        ("promote_dry_run", "recorded"),
        ("promote", "allowed"),
        ("rollback", "allowed"),
        ("promote", "refused"),
    } <= actions


def test_engineer_cannot_promote_and_the_refusal_names_the_role(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(3)
    monkeypatch.setenv("SPYNE_API_KEY", keys["eng"])
    result = runner.invoke(app, ["tables", "promote", REF.canonical])
    assert result.exit_code == 1
    assert "permission_denied" in result.output and "admin" in result.output
    monkeypatch.setenv("SPYNE_API_KEY", keys["root"])
    assert _json(["tables", "list", "--json"])[0]["state"] == "SHADOW"
