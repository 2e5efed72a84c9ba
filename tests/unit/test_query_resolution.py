from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Verdict
from policies.lifecycle import TableState
from policies.query_resolution import TableFacts, TableRequest, decide_table
from policies.roles import Role

FIXTURE = "query_resolution.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_resolution(case: dict[str, Any]) -> None:
    raw = case["request"]
    request = TableRequest(
        written=raw["canonical"],
        canonical=raw["canonical"],
        version=raw.get("version"),
        versioned_name=raw.get("versioned_name", False),
    )
    catalog = load(FIXTURE, "tables")
    found = catalog.get(raw["canonical"])
    facts = (
        TableFacts(
            raw["canonical"],
            TableState(found["state"]),
            found["active_version"],
            tuple(found["versions"]),
        )
        if found
        else None
    )
    decision, resolved = decide_table(
        request, facts, Role.parse(case["role"]), load(FIXTURE, "known")
    )
    assert decision.verdict == Verdict[case["decision"]], decision.message
    if decision.verdict == Verdict.ALLOW:
        assert resolved is not None and resolved.version == case["version"]
    else:
        assert resolved is None
        assert decision.reasons[0].rule == case["rule"]
        if "suggestions" in case:
            assert decision.reasons[0].details["suggestions"] == case["suggestions"]
        if "message" in case:
            assert case["message"] in decision.message
