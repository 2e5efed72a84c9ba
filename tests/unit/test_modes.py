from __future__ import annotations

import itertools
from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Verdict
from policies.errors import ModeRefused
from policies.modes import DEFAULT_MODE, NEEDS_INGESTION_READY, SystemMode, decide_mode
from policies.roles import Operation

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


@pytest.mark.parametrize(
    "case", params(FIXTURE, "operations", lambda c: f"{c['mode']}-{c['operation']}")
)
def test_mode_matrix(case: dict[str, Any]) -> None:
    mode, operation = SystemMode(case["mode"]), Operation(case["operation"])
    decision = decide_mode(mode, operation)
    if case["expected"] == "allow":
        assert decision.verdict == Verdict.ALLOW
        return
    assert decision.verdict == Verdict.BLOCK
    (reason,) = decision.reasons
    assert reason.rule == "system_mode"
    assert "spyne mode set INGESTION_READY" in reason.message
    assert operation.value in reason.message
    with pytest.raises(ModeRefused) as exc:
        decision.raise_unless_allowed()
    assert exc.value.details["mode"] == mode.value
    assert exc.value.details["operation"] == operation.value


def test_fixture_covers_every_mode_and_operation_once() -> None:
    seen = [(SystemMode(c["mode"]), Operation(c["operation"])) for c in load(FIXTURE, "operations")]
    assert sorted(seen) == sorted(itertools.product(SystemMode, Operation))


def test_the_way_back_is_open_in_every_mode() -> None:
    for operation in (Operation.ROLLBACK, Operation.DEPRECATE, Operation.RESTORE):
        assert operation not in NEEDS_INGESTION_READY


def test_default_mode_is_read_only_and_refuses_every_write() -> None:
    assert SystemMode.parse(DEFAULT_MODE) == SystemMode.READ_ONLY
    for operation in NEEDS_INGESTION_READY:
        assert not decide_mode(SystemMode.parse(DEFAULT_MODE), operation).allowed
