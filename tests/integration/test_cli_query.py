"""`spyne query validate`: the gate from the command line, with no platform state at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app

runner = CliRunner()


@pytest.fixture
def empty_home(spyne_home: Path) -> Path:
    """A SPYNE_HOME with nothing in it: no catalog, no warehouse, no key."""
    return spyne_home


def _validate(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["query", "validate", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_decisions_and_exit_codes(empty_home: Path) -> None:
    code, data = _validate("--sql", "SELECT count(*) FROM orders")
    assert (code, data["decision"], data["rules"]) == (0, "allow", [])

    code, data = _validate("--sql", "SELECT id FROM partners", "--dialect", "postgres")
    assert (code, data["decision"]) == (0, "rewrite")
    assert data["rewritten_sql"] == "SELECT id FROM partners LIMIT 10000"

    joins = " ".join(f"JOIN t{i} ON t0.id = t{i}.id" for i in range(1, 7))
    code, data = _validate("--sql", f"SELECT count(*) FROM t0 {joins}", "--dialect", "bigquery")
    assert (code, data["decision"], data["rules"]) == (0, "require_approval", ["join_depth"])

    code, data = _validate("--sql", "SELECT 1; DROP TABLE t")
    assert (code, data["decision"]) == (1, "block")
    assert data["rules"] == ["multiple_statements", "ddl"] and data["errors"]
    assert set(data) >= {"decision", "errors", "warnings", "rewritten_sql", "rules"}
    assert not empty_home.exists()  # nothing was created to answer


def test_parse_errors_and_unknown_dialects_are_typed(empty_home: Path) -> None:
    result = runner.invoke(app, ["query", "validate", "--sql", "SELEC 1 FRM"])
    assert result.exit_code == 1 and "parse_error" in result.output
    result = runner.invoke(app, ["query", "validate", "--sql", "SELECT 1", "--dialect", "oracle"])
    assert result.exit_code == 1 and "validation_failed" in result.output


def test_install_override_changes_the_limit(empty_home: Path) -> None:
    (empty_home / "policies").mkdir(parents=True)
    (empty_home / "policies" / "query.yaml").write_text("default_limit: 25\n", encoding="utf-8")
    code, data = _validate("--sql", "SELECT id FROM partners")
    assert (code, data["rewritten_sql"]) == (0, "SELECT id FROM partners LIMIT 25")
    (empty_home / "policies" / "query.yaml").write_text("default_limt: 25\n", encoding="utf-8")
    result = runner.invoke(app, ["query", "validate", "--sql", "SELECT 1"])
    assert result.exit_code == 1 and "default_limt" in result.output
