from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Verdict
from policies.errors import ModeRefused
from policies.modes import DEFAULT_MODE, SystemMode, decide_ingestion, require_ingestion

FIXTURE = "modes.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "parse", lambda c: repr(c["input"])))
def test_parse(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ModeRefused) as exc:
            SystemMode.parse(case["input"])
        assert exc.value.code == case["error"]
        assert "READ_ONLY, INGESTION_READY" in exc.value.message
    else:
        assert SystemMode.parse(case["input"]) == SystemMode(case["expected"])


@pytest.mark.parametrize("case", params(FIXTURE, "ingestion", lambda c: c["mode"]))
def test_ingestion(case: dict[str, Any]) -> None:
    mode = SystemMode(case["mode"])
    decision = decide_ingestion(mode)
    if case["expected"] == "allow":
        assert decision.verdict == Verdict.ALLOW
        require_ingestion(mode)
    else:
        assert decision.verdict == Verdict.BLOCK
        (reason,) = decision.reasons
        assert reason.rule == case["rule"]
        assert case["message_contains"] in reason.message
        with pytest.raises(ModeRefused) as exc:
            require_ingestion(mode)
        assert exc.value.details["mode"] == mode.value


def test_fixture_covers_every_mode() -> None:
    assert {SystemMode(c["mode"]) for c in load(FIXTURE, "ingestion")} == set(SystemMode)
    assert {SystemMode(c["expected"]) for c in load(FIXTURE, "parse") if "expected" in c} == set(
        SystemMode
    )


def test_default_mode_is_read_only() -> None:
    assert SystemMode.parse(DEFAULT_MODE) == SystemMode.READ_ONLY
    assert not decide_ingestion(SystemMode.parse(DEFAULT_MODE)).allowed
