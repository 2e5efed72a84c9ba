from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.drift import ChangeKind, Column, DriftSeverity, SchemaChange
from policies.errors import ValidationFailed
from policies.source_drift import (
    DriftResponse,
    SourceBlock,
    decide_source_blocks,
    evolve_contract,
    respond,
    taken_in_by,
)

FIXTURE = "source_drift.yaml"
DOCUMENT: dict[str, Any] = {
    "id": "erp_res_partner",
    "version": "1.0.0",
    "schema": [
        {
            "name": "res_partner",
            "properties": [
                {"name": "id", "logicalType": "integer", "physicalType": "integer"},
                {"name": "customer_rank", "logicalType": "integer", "physicalType": "integer"},
            ],
        }
    ],
}


@pytest.mark.parametrize("case", params(FIXTURE, "respond", lambda c: c["severity"]))
def test_respond(case: dict[str, Any]) -> None:
    assert respond(DriftSeverity[case["severity"]]) == DriftResponse(case["response"])


@pytest.mark.parametrize("case", params(FIXTURE, "taken_in"))
def test_taken_in_by(case: dict[str, Any]) -> None:
    registered = [(str(v), s) for v, s in case["registered"]]
    assert taken_in_by(case["report"], registered) == case["version"]


@pytest.mark.parametrize("case", params(FIXTURE, "blocks"))
def test_decide_source_blocks(case: dict[str, Any]) -> None:
    blocks = {
        source: SourceBlock(7, source, b["contract"], b["version"], tuple(b["changes"]))
        for source, b in case["blocks"].items()
    }
    decision = decide_source_blocks(case["table"], 3, case["upstream"], blocks, case["newest"])
    assert decision.allowed is case["allowed"]
    for phrase in case.get("says", []):
        assert phrase in decision.message
    for reason in decision.reasons:
        assert reason.rule == "source_drift" and reason.details["drift_report"] == 7


def _change(c: dict[str, Any]) -> SchemaChange:
    return SchemaChange(
        ChangeKind(c["kind"]), c["column"], c["before"], c["after"], DriftSeverity[c["severity"]]
    )


@pytest.mark.parametrize("case", params(FIXTURE, "evolve"))
def test_evolve_contract(case: dict[str, Any]) -> None:
    document = {**DOCUMENT, "version": case["version"]}
    changes = [_change(c) for c in case["changes"]]
    live = [Column(c["name"], c["type"], c["nullable"]) for c in case["live"]]
    if "refused" in case:
        with pytest.raises(ValidationFailed, match=case["refused"]):
            evolve_contract(document, changes, live, case["dialect"])
        return
    out = evolve_contract(document, changes, live, case["dialect"])
    assert out["version"] == case["new_version"]
    assert document["schema"][0]["properties"] == DOCUMENT["schema"][0]["properties"]
    props = {p["name"]: p for p in out["schema"][0]["properties"]}
    if "added" in case:
        added = props[case["added"]["name"]]
        assert {k: added[k] for k in case["added"]} == case["added"]
    for name, physical in case.get("retyped", {}).items():
        assert props[name]["physicalType"] == physical
