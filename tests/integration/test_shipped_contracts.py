"""The shipped contracts are valid ODCS v3 (the standard's own JSON schema, as ODCS linters
check them) and valid Spyne contracts: every sample ERP table has one, append and upsert mixed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from orchestration.ingestion.contracts import contract_files, load_contract
from orchestration.sample.schema import SOURCE_TABLES

SCHEMA = json.loads(OpenDataContractStandard.json_schema())


@pytest.mark.parametrize("path", contract_files(), ids=lambda p: p.name)
def test_contract_passes_the_odcs_json_schema(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_every_source_table_has_one_contract_mixing_modes() -> None:
    contracts = [load_contract(p) for p in contract_files()]
    assert sorted(c.source_table for c in contracts) == sorted(SOURCE_TABLES)
    assert {c.semantics.mode.value for c in contracts} == {"append", "upsert"}
    assert all(not c.warnings for c in contracts)
    assert {p.name for p in contract_files()} == {f"{t}.odcs.yaml" for t in SOURCE_TABLES}
