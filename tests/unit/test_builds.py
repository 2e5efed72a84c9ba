from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.builds import decide_build, waiting_message
from policies.decisions import Verdict
from policies.lifecycle import TableState


@pytest.mark.parametrize("case", params("builds.yaml", "cases"))
def test_decide_build(case: dict[str, Any]) -> None:
    upstream = {k: None if v is None else TableState(v) for k, v in case["upstream"].items()}
    decision = decide_build("silver.customers", upstream)
    assert decision.verdict == Verdict[case["verdict"]]
    text = waiting_message("silver.customers", decision)
    for expected in case.get("message_contains", []):
        assert expected in text
    if "reasons" in case:
        assert len(decision.reasons) == case["reasons"]
    assert all(r.details["table"] == "silver.customers" for r in decision.reasons)
