"""`spyne contracts ...` on a real install: init registers the shipped contracts; engineers and
admins register, other roles are refused; every refusal is typed and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.ingestion.contracts import contract_files
from policies.roles import Role

runner = CliRunner()


@pytest.fixture
def keys(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from orchestration.runtime import runtime

    catalog = runtime().catalog
    out = {}
    for name, role in (("root", Role.ADMIN), ("ana", Role.ANALYST), ("eng", Role.ENGINEER)):
        _, out[name] = catalog.create_principal(name, role, created_by="test")
    monkeypatch.setenv("SPYNE_API_KEY", out["eng"])
    return out


def _edited(tmp_path: Path, **changes: object) -> Path:
    doc = yaml.safe_load(contract_files()[0].read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key == "version":
            doc["version"] = value
        else:
            doc["customProperties"][0]["value"][key] = value
    path = tmp_path / "edited.odcs.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_init_registers_the_shipped_contracts(keys: dict[str, str]) -> None:
    result = runner.invoke(app, ["contracts", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) == len(contract_files()) == 6
    assert {c["mode"] for c in listed} == {"append", "upsert"}
    assert all(c["registered_by"] == "spyne-init" for c in listed)
    shown = runner.invoke(app, ["contracts", "show", "erp_sale_order", "--json"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["document"]["kind"] == "DataContract" and body["versions"] == ["1.0.0"]
    text = runner.invoke(app, ["contracts", "show", "erp_sale_order"])
    assert "mode: upsert; key: id; event time: write_date" in text.stdout


def test_engineer_registers_analyst_is_refused(
    keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _edited(tmp_path, version="1.1.0", dedupe_window="12h")
    monkeypatch.setenv("SPYNE_API_KEY", keys["ana"])
    refused = runner.invoke(app, ["contracts", "register", str(path)])
    assert refused.exit_code == 1
    assert (
        "permission_denied" in refused.stderr
        and "create_contract needs the engineer" in refused.stderr
    )

    monkeypatch.setenv("SPYNE_API_KEY", keys["eng"])
    done = runner.invoke(app, ["contracts", "register", str(path)])
    assert done.exit_code == 0, done.output
    assert "registered erp_account_move 1.1.0" in done.stdout
    again = runner.invoke(app, ["contracts", "register", str(path), "--json"])
    assert json.loads(again.stdout)[0]["outcome"] == "unchanged"

    from orchestration.runtime import runtime

    catalog = runtime().catalog
    assert catalog.list_audit(action="register_contract")[0].actor == "eng"
    (refusal,) = catalog.list_audit(action="create_contract")
    assert (refusal.actor, refusal.outcome.value) == ("ana", "refused")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"version": "1.1.0", "mode": "upsert", "idempotency_key": []}, "contract_key_required"),
        ({"version": "1.1.0", "dedupe_window": "a while"}, "contract_duration_invalid"),
        ({"dedupe_window": "12h"}, "contract_version_conflict"),
    ],
)
def test_refusals_are_typed_audited_and_change_nothing(
    keys: dict[str, str], tmp_path: Path, changes: dict[str, object], code: str
) -> None:
    path = _edited(tmp_path, **changes)
    result = runner.invoke(app, ["contracts", "register", str(path)])
    assert result.exit_code == 1
    assert f"[{code}]" in result.stderr and "fix" in result.stderr
    from orchestration.runtime import runtime

    catalog = runtime().catalog
    assert [v.version for v in catalog.contracts.versions("erp_account_move")] == ["1.0.0"]
    (entry,) = catalog.list_audit(action="register_contract", target=f"file:{path}")
    assert entry.outcome.value == "refused" and entry.details["code"] == code


def test_missing_file_and_bad_yaml(keys: dict[str, str], tmp_path: Path) -> None:
    missing = runner.invoke(app, ["contracts", "register", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "[not_found]" in missing.stderr
    bad = tmp_path / "bad.odcs.yaml"
    bad.write_text("kind: [unclosed", encoding="utf-8")
    result = runner.invoke(app, ["contracts", "register", str(bad)])
    assert result.exit_code == 1 and "[contract_invalid]" in result.stderr
    assert "not valid YAML at line 1" in result.stderr


def test_check_validates_files_without_an_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPYNE_API_KEY", raising=False)
    shipped = [str(p) for p in contract_files()]
    result = runner.invoke(app, ["contracts", "check", *shipped])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == len(shipped)
    bad = _edited(tmp_path, event_time_column="state")
    refused = runner.invoke(app, ["contracts", "check", str(bad)])
    assert refused.exit_code == 1
    assert "[contract_event_time_not_timestamp]" in refused.stderr
