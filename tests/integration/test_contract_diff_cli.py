"""`spyne contracts diff`: two registered versions compared, with the dbt models to migrate."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.runtime import runtime
from policies.contracts import parse_contract
from policies.roles import Role


def test_diff_names_changes_severities_and_the_models_to_migrate(
    installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime()
    rt.catalog.create_principal("ada", Role.ADMIN, "test")
    _, viewer = rt.catalog.create_principal("vic", Role.VIEWER, "ada")
    v1 = rt.catalog.contracts.get("erp_res_partner", "1.0.0")
    document = copy.deepcopy(dict(v1.document))
    document["version"] = "2.0.0"
    for prop in document["schema"][0]["properties"]:
        if prop["name"] == "email":
            prop["name"] = "email_address"
    document["schema"][0]["properties"].append(
        {"name": "fax", "logicalType": "string", "physicalType": "varchar", "required": False}
    )
    rt.catalog.contracts.register(parse_contract(document, "v2"), "ada", None, source="test")

    monkeypatch.setenv("SPYNE_API_KEY", viewer)
    runner = CliRunner()
    args = ["contracts", "diff", "erp_res_partner", "--from", "1.0.0", "--to", "2.0.0"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["severity"] == "BREAKING" and found["table"] == "bronze.res_partner"
    guide = {s["change"]: s for s in found["migration_guide"]}
    renamed = guide["column email renamed to email_address"]
    assert renamed["severity"] == "BREAKING" and renamed["models"] == ["customers"]
    assert renamed["action"] == "read email_address instead of email"
    assert guide["column fax added (varchar)"]["severity"] == "ADDITIVE"
    assert "customers" in found["downstream_models"]
    assert "customer_revenue" in found["downstream_models"]  # gold, through silver

    text = runner.invoke(app, args)
    assert text.exit_code == 0 and "read email_address instead of email" in text.output
    missing = runner.invoke(
        app, ["contracts", "diff", "erp_res_partner", "--from", "1.0.0", "--to", "9.0.0"]
    )
    assert missing.exit_code == 1 and "[not_found]" in missing.output
