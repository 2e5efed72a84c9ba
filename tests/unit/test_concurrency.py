from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.concurrency import decide_expected_active
from policies.decisions import Verdict
from policies.errors import ConcurrentChange
from policies.lifecycle import TableState


@pytest.mark.parametrize("case", params("concurrency.yaml", "cases"))
def test_expected_active(case: dict[str, Any]) -> None:
    decision = decide_expected_active(
        "gold.t", case["expected"], case["active"], TableState(case["state"])
    )
    assert decision.verdict == Verdict[case["verdict"]]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if not decision.allowed:
        with pytest.raises(ConcurrentChange) as exc:
            decision.raise_unless_allowed()
        assert exc.value.details["active_version"] == case["active"]
        assert exc.value.details["expected_active"] == case["expected"]
