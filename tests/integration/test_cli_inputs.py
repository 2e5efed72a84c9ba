"""Bad input at the CLI ends in a typed error (exit 1) and changes nothing; user text is printed
exactly as typed, whatever markup it looks like."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestration.cli import app
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "bad_inputs.yaml"
CASES = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))["cases"]
REF = TableRef(Layer.SILVER, "accounts")


def _install(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from orchestration.identity import current_actor
    from orchestration.install import init
    from orchestration.runtime import runtime

    init()
    rt = runtime()
    _, key = rt.catalog.create_principal("root", Role.ADMIN, created_by="test")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "root")
    me = current_actor(rt.catalog, key)
    svc = rt.service()
    version = svc.allocate_version(me, REF)
    rt.warehouse.create_version(REF, version, "select range as id from range(3)")
    svc.register_build(me, REF, version, None)
    rt.catalog.record_gate(REF.canonical, version, "passed", actor="root")
    svc.promote(me, REF.canonical)
    monkeypatch.setenv("SPYNE_API_KEY", key)
    return key


def _policy(home: Path, data: bytes) -> None:
    (home / "policies").mkdir(exist_ok=True)
    (home / "policies" / "publishing.yaml").write_bytes(data)


def _drop_guard(home: Path) -> None:
    with sqlite3.connect(home / "catalog.db") as con:
        con.execute("DROP TRIGGER audit_log_no_update")


DAMAGE: dict[str, Callable[[Path], Any]] = {
    "catalog_deleted": lambda h: (h / "catalog.db").unlink(),
    "catalog_emptied": lambda h: (h / "catalog.db").write_bytes(b""),
    "catalog_corrupt": lambda h: (h / "catalog.db").write_bytes(b"not a database " * 400),
    "warehouse_deleted": lambda h: (h / "warehouse.duckdb").unlink(),
    "warehouse_corrupt": lambda h: (h / "warehouse.duckdb").write_bytes(b"garbage" * 4000),
    "policy_broken": lambda h: _policy(h, b"tables: {silver.accounts: [unclosed\n"),
    "policy_not_utf8": lambda h: _policy(h, b"retention_hours: 24 # \xff\xfe\n"),
    "policy_list": lambda h: _policy(h, b"- retention_hours\n"),
    "policy_bad_value": lambda h: _policy(h, b"retention_hours: -3\n"),
    "guard_dropped": _drop_guard,
}


def _args(raw: list[str]) -> list[str]:
    return ["x" * 300 if a == "{300 x}" else a for a in raw]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_a_typed_error(
    case: dict[str, Any], spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.runtime import _cached, runtime

    if case["setup"] != "fresh":
        _install(spyne_home, monkeypatch)
        if case["setup"] in DAMAGE:
            # Close the install's own connections first: SQLite checkpoints its WAL into the
            # file when the last one closes, which would otherwise undo the damage at random.
            runtime().catalog.dispose()
            _cached.cache_clear()
            for f in spyne_home.glob("*.wal"):
                f.unlink()
            DAMAGE[case["setup"]](spyne_home)
    _cached.cache_clear()
    for name, value in (case.get("env") or {}).items():
        monkeypatch.setenv(name, value)
    before = {p.name: p.stat().st_size for p in spyne_home.glob("*") if p.is_file()}
    result = runner.invoke(app, _args(case["args"]))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    assert f"[{case['code']}]" in result.output, result.output
    assert "Traceback" not in result.output
    if case["setup"] == "fresh":
        assert not (spyne_home / "catalog.db").exists(), "a refusal never creates an install"
    elif case["setup"] in ("catalog_deleted", "warehouse_deleted"):
        after = {p.name for p in spyne_home.glob("*") if p.is_file()}
        assert set(before) >= after - {"catalog.db-wal", "catalog.db-shm"}


def test_markup_in_names_and_reasons_is_printed_literally(
    spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(spyne_home, monkeypatch)
    created = runner.invoke(app, ["auth", "create-key", "[/]", "--role", "viewer"])
    assert created.exit_code == 0, created.output
    assert "[/]" in created.output and "SPYNE_API_KEY=spy_" in created.output
    reason = "[/] [bold red]not bold[/bold red] [link=x]"
    result = runner.invoke(app, ["tables", "deprecate", REF.canonical, "--reason", reason])
    assert result.exit_code == 0, result.output
    history = runner.invoke(app, ["tables", "history", REF.canonical])
    assert history.exit_code == 0, history.output
    assert reason in history.output.replace("\n", "")
    audit = runner.invoke(app, ["audit"])
    assert audit.exit_code == 0 and "principal:[/]" in audit.output


def test_a_disabled_key_stops_working_and_the_last_admin_stays(
    spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_key = _install(spyne_home, monkeypatch)
    created = runner.invoke(app, ["auth", "create-key", "eve", "--role", "engineer"])
    eve_key = created.output.split("SPYNE_API_KEY=")[1].split()[0]
    assert runner.invoke(app, ["auth", "disable-key", "eve"]).exit_code == 0
    monkeypatch.setenv("SPYNE_API_KEY", eve_key)
    refused = runner.invoke(app, ["tables", "list"])
    assert refused.exit_code == 1 and "authentication_required" in refused.output
    monkeypatch.setenv("SPYNE_API_KEY", admin_key)
    last = runner.invoke(app, ["auth", "disable-key", "root"])
    assert last.exit_code == 1 and "last enabled admin" in last.output
    audit = runner.invoke(app, ["audit", "--json"])
    assert '"disable_principal"' in audit.output
