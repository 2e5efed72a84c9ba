from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contract_docs import FIXTURE, document
from fixture_cases import load, params

from policies.contract_rules import RULES
from policies.contracts import ConflictResolution, IngestMode, content_hash, parse_contract
from policies.errors import ContractInvalid


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_contract_validation(case: dict[str, Any]) -> None:
    doc = document(case)
    if not case["errors"]:
        contract = parse_contract(doc, "case.yaml")
        assert len(contract.warnings) == case.get("warnings", 0)
        return
    with pytest.raises(ContractInvalid) as exc:
        parse_contract(doc, "case.yaml")
    error = exc.value
    assert [p["code"] for p in error.details["problems"]] == case["errors"]
    assert error.code == case["errors"][0]
    # The refusal names the contract, the field and the fix.
    assert error.details["field"] in error.message
    assert "fix: " in error.message
    assert error.details["fix"]
    name = doc.get("id") if isinstance(doc, dict) else None
    assert f"contract {name or 'case.yaml'}:" in error.message


def test_every_rule_refuses_some_case() -> None:
    codes = {code for case in load(FIXTURE, "cases") for code in case["errors"]}
    expected = {
        "contract_invalid",
        "contract_version_invalid",
        "contract_semantics_missing",
        "contract_semantics_invalid",
        "contract_key_required",
        "contract_unknown_column",
        "contract_column_nullable",
        "contract_event_time_not_timestamp",
        "contract_duration_invalid",
        "contract_processing_time_default",
    }
    assert codes == expected
    assert len(RULES) == 10


def test_valid_contract_is_read_whole() -> None:
    contract = parse_contract(document({}), "case.yaml")
    assert (contract.id, contract.name, contract.version) == ("erp_orders", "erp.orders", "1.2.0")
    assert (contract.table, contract.source_table) == ("orders", "sale_order")
    assert contract.owner == "sales@example.com"
    s = contract.semantics
    assert s.mode is IngestMode.UPSERT and s.idempotency_key == ("id",)
    assert s.conflict_resolution is ConflictResolution.LATEST_WINS
    assert s.dedupe_window == timedelta(hours=24)
    assert s.freshness.max_lag == timedelta(hours=48)
    assert s.freshness.alert_threshold == timedelta(hours=26)
    assert [c.name for c in contract.columns if c.pii] == ["customer_email"]
    assert contract.column("write_date").required


def test_append_without_key_dedupes_whole_rows() -> None:
    contract = parse_contract(
        document({"set": {"$sem.mode": "append"}, "unset": ["$sem.idempotency_key"]}), "x"
    )
    assert contract.semantics.idempotency_key == contract.column_names


def test_content_hash_ignores_key_order_not_values() -> None:
    a = parse_contract(document({}), "x")
    reordered = dict(reversed(list(document({}).items())))
    assert parse_contract(reordered, "x").content_hash == a.content_hash
    changed = parse_contract(document({"set": {"$sem.dedupe_window": "12h"}}), "x")
    assert changed.content_hash != a.content_hash
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
