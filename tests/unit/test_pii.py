from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.pii import PiiType, Status, Tier, classify, may_see, must_redact, redacted
from policies.roles import Role

FIXTURE = "pii.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "classify"))
def test_classify(case: dict[str, Any]) -> None:
    matches = {PiiType(k): v for k, v in case["matches"].items()}
    finding = classify(case["column"], matches, case["sampled"])
    if case["tier"] is None:
        assert finding is None
        return
    assert finding is not None
    assert (finding.tier, finding.kind) == (Tier(case["tier"]), PiiType(case["kind"]))


@pytest.mark.parametrize("case", params(FIXTURE, "redact", lambda c: f"{c['tier']}-{c['status']}"))
def test_redact(case: dict[str, Any]) -> None:
    assert must_redact(Tier(case["tier"]), Status(case["status"])) is case["redact"]


def test_only_admins_see_personal_data() -> None:
    assert [may_see(r) for r in Role] == [False, False, False, True]
    assert may_see(None) is False
    assert redacted("email") == "[REDACTED:email]"
