from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import load, params

from policies.contract_diff import diff_contracts, migration_guide
from policies.drift import DriftSeverity

FIXTURE = "contract_diff.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_diff_and_guide(case: dict[str, Any]) -> None:
    severity, changes = diff_contracts(
        case["before"],
        case["after"],
        case.get("before_summary", {}),
        case.get("after_summary", {}),
    )
    assert severity == DriftSeverity[case["severity"]]
    steps = migration_guide(changes, load(FIXTURE, "readers"))
    got = [
        {
            "description": s.change,
            "severity": s.severity.name,
            "models": list(s.models),
            "action": s.action,
        }
        for s in steps
    ]
    assert got == case["changes"]
