from __future__ import annotations

from typing import Any

import pytest
from contract_docs import document
from fixture_cases import params

from policies.contract_versions import (
    RegisteredVersion,
    RegistrationOutcome,
    column_facts,
    decide_registration,
)
from policies.contracts import Contract, parse_contract
from policies.errors import ContractVersionConflict


def _contract(edit: dict[str, Any]) -> Contract:
    doc = document(edit)
    if edit.get("reorder"):
        doc = dict(reversed(list(doc.items())))
    return parse_contract(doc, "case.yaml")


def _registered(contract: Contract) -> RegisteredVersion:
    return RegisteredVersion(
        contract.version, contract.content_hash, contract.summary(), column_facts(contract)
    )


@pytest.mark.parametrize("case", params("contract_versions.yaml", "cases"))
def test_decide_registration(case: dict[str, Any]) -> None:
    registered = [_registered(_contract(edit)) for edit in case["registered"]]
    new = _contract(case["new"])
    if "error" in case:
        with pytest.raises(ContractVersionConflict) as exc:
            decide_registration(new, registered)
        assert exc.value.code == case["error"]
        assert "fix:" in exc.value.message and exc.value.details["field"] == "version"
        return
    decision = decide_registration(new, registered)
    assert decision.outcome is RegistrationOutcome(case["outcome"])
    assert len(decision.breaking) == case.get("breaking", 0)
