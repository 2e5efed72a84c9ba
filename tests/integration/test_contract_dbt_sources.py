"""dbt's bronze sources and the shipped contracts say the same thing (columns, descriptions,
required columns, PII, contract id, version and mode, the freshness SLA), and dbt reads the
freshness from them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.environment import DBT_PROJECT_DIR
from orchestration.ingestion.contracts import contract_files, load_contract
from policies.contract_sources import dbt_period, source_disagreements

SOURCES = DBT_PROJECT_DIR / "models" / "bronze" / "_bronze__sources.yml"


def _tables() -> list[dict[str, Any]]:
    doc = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    (bronze,) = [s for s in doc["sources"] if s["name"] == "bronze"]
    return bronze["tables"]


CONTRACTS = [load_contract(p) for p in contract_files()]


def test_bronze_sources_agree_with_the_contracts() -> None:
    assert source_disagreements(_tables(), CONTRACTS) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t[0]["columns"].pop(1), "columns are"),
        (
            lambda t: t[0]["config"]["freshness"].update(error_after={"count": 3, "period": "day"}),
            "freshness.error_after",
        ),
        (lambda t: t[0]["config"].update(loaded_at_field="create_date"), "loaded_at_field"),
        (lambda t: t[0]["meta"]["spyne"].update(mode="append"), "meta.spyne.mode"),
        (lambda t: t[0]["columns"][0].update(description="something else"), "description differs"),
        (lambda t: t[0]["columns"][0].pop("data_tests"), "not_null test missing"),
        (lambda t: t[0]["columns"][2].pop("meta"), "meta.pii"),
        (lambda t: t.pop(), "a contract exists but dbt has no source"),
    ],
)
def test_any_disagreement_is_named(edit: Any, expected: str) -> None:
    tables = copy.deepcopy(_tables())
    edit(tables)
    found = source_disagreements(tables, CONTRACTS)
    assert any(expected in line for line in found), found


def test_dbt_reads_the_contracts_freshness() -> None:
    manifest = json.loads((Path(DBT_PROJECT_DIR) / "target" / "manifest.json").read_text())
    sources = {v["name"]: v for v in manifest["sources"].values() if v["source_name"] == "bronze"}
    for contract in CONTRACTS:
        node = sources[contract.table]
        fresh = contract.semantics.freshness
        assert node["loaded_at_field"] == contract.semantics.event_time_column
        warn, error = node["freshness"]["warn_after"], node["freshness"]["error_after"]
        assert dbt_period(warn) == fresh.alert_threshold and dbt_period(error) == fresh.max_lag
