"""The CLI: help, identity refusals, mode changes, and typed errors with non-zero exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from policies.roles import Role

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["tables"],
        ["mode"],
        ["auth"],
        ["sample"],
        ["gates"],
        ["tables", "promote", "--help"],
        ["demo", "--help"],
    ],
)
def test_help_works(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"] if "--help" not in args else args)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_identity_roles_and_modes(spyne_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing is installed yet: every command says so, and creates nothing
    result = runner.invoke(app, ["mode", "show"])
    assert (
        result.exit_code == 1
        and "not_initialized" in result.output
        and "spyne init" in result.output
    )
    assert not (spyne_home / "catalog.db").exists()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert (spyne_home / "catalog.db").stat().st_mode & 0o777 == 0o600
    assert (spyne_home / "warehouse.duckdb").stat().st_mode & 0o777 == 0o600

    # no key at all
    result = runner.invoke(app, ["mode", "show"])
    assert result.exit_code == 1
    assert "authentication_required" in result.output and "SPYNE_API_KEY" in result.output

    # bootstrap the first admin, once
    result = runner.invoke(app, ["auth", "bootstrap", "--name", "alice"])
    assert result.exit_code == 0, result.output
    key = result.output.split("SPYNE_API_KEY=")[1].split()[0]
    assert runner.invoke(app, ["auth", "bootstrap", "--name", "mallory"]).exit_code == 1

    # a bad key
    monkeypatch.setenv("SPYNE_API_KEY", "spy_not-a-real-key")
    result = runner.invoke(app, ["mode", "show"])
    assert result.exit_code == 1 and "authentication_required" in result.output

    monkeypatch.setenv("SPYNE_API_KEY", key)
    result = runner.invoke(app, ["mode", "show", "--json"])
    assert result.exit_code == 0 and '"READ_ONLY"' in result.output

    result = runner.invoke(app, ["auth", "create-key", "vic", "--role", "viewer"])
    assert result.exit_code == 0, result.output
    viewer_key = result.output.split("SPYNE_API_KEY=")[1].split()[0]

    # a too-weak role: the refusal names the role needed, and is audited
    monkeypatch.setenv("SPYNE_API_KEY", viewer_key)
    result = runner.invoke(app, ["mode", "set", "INGESTION_READY"])
    assert result.exit_code == 1
    assert "permission_denied" in result.output and "admin" in result.output

    monkeypatch.setenv("SPYNE_API_KEY", key)
    result = runner.invoke(app, ["mode", "set", "INGESTION_READY", "--reason", "load erp"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["mode", "set", "SOMETIMES"])
    assert result.exit_code == 1 and "mode_refused" in result.output

    result = runner.invoke(app, ["audit", "--json", "--limit", "20"])
    assert result.exit_code == 0
    assert '"refused"' in result.output and '"set_mode"' in result.output

    # unknown table and malformed names are typed errors too
    result = runner.invoke(app, ["tables", "promote", "silver.nope"])
    assert result.exit_code == 1 and "not_found" in result.output
    result = runner.invoke(app, ["tables", "promote", "nolayer"])
    assert result.exit_code == 1 and "validation_failed" in result.output


def test_bad_environment_fails_at_start(monkeypatch: pytest.MonkeyPatch, spyne_home: Path) -> None:
    monkeypatch.setenv("SPYNE_ENV", "staging")
    monkeypatch.setenv("SPYNE_API_KEY", "x")
    result = runner.invoke(app, ["mode", "show"])
    assert result.exit_code == 1
    assert "config_invalid" in result.output and "local, ci, prod" in result.output


def test_dbt_docs_generate_works(spyne_home: Path) -> None:
    from orchestration.environment import DBT_PROJECT_DIR

    catalog = DBT_PROJECT_DIR / "target" / "catalog.json"
    catalog.unlink(missing_ok=True)
    result = runner.invoke(app, ["docs", "generate"])
    assert result.exit_code == 0, result.output
    assert catalog.exists() and (DBT_PROJECT_DIR / "target" / "index.html").exists()
    assert "docs serve" in result.output
    # The site shows every accepted join with its grain sentence and its review (meta.spyne).
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    joins = [n for n in manifest["nodes"].values() if n["name"].startswith("jn_")]
    assert joins and all(n["resource_type"] == "model" for n in joins)
    for node in joins:
        assert node["description"].startswith("One row per row of "), node["unique_id"]
        review = node["meta"]["spyne"]
        assert {
            "join_id",
            "version",
            "accepted_by",
            "accepted_at",
            "rationale",
            "candidate",
        } <= set(review), node["unique_id"]
        assert review["stats"]["cardinality"] and review["join"]["parent"], node["unique_id"]
        assert all(c["description"] for c in node["columns"].values()), node["unique_id"]


def test_sample_generate_writes_the_source(
    installed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.runtime import runtime

    catalog = runtime().catalog
    _, engineer = catalog.create_principal("eng", Role.ENGINEER, created_by="test")
    _, analyst = catalog.create_principal("ana", Role.ANALYST, created_by="test")
    target = tmp_path / "erp.duckdb"
    args = ["sample", "generate", "--rows", "60", "--seed", "3", "--path", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "authentication_required" in result.output
    monkeypatch.setenv("SPYNE_API_KEY", analyst)
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "permission_denied" in result.output
    assert not target.exists()
    monkeypatch.setenv("SPYNE_API_KEY", engineer)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, [*args[:-2], "--rows", "11", "--path", str(target)])
    assert again.exit_code == 1 and "--force" in again.output, "an existing source is kept"
    assert target.exists() and "sale_order_line" in result.output
    import duckdb

    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(distinct id) from sale_order_line").fetchone()[0] == 60
