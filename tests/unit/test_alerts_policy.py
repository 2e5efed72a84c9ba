from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fixture_cases import load, params

from policies.alerts import (
    AlertKind,
    AlertPolicy,
    AlertSeverity,
    Delivery,
    backoff,
    condition_key,
    route,
)
from policies.errors import ValidationFailed

FIXTURE = "alerts.yaml"
DEFAULTS = Path(__file__).resolve().parents[2] / "policies" / "defaults" / "alerts.yaml"


@pytest.mark.parametrize("case", params(FIXTURE, "routes"))
def test_route(case: dict[str, Any]) -> None:
    policy = AlertPolicy.from_mapping(load(FIXTURE, "policies")[case["policy"]])
    got = route(policy, AlertKind(case["kind"]), AlertSeverity.parse(case["severity"]))
    assert got == tuple(case["channels"])


@pytest.mark.parametrize("case", params(FIXTURE, "invalid"))
def test_invalid_policy(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as err:
        AlertPolicy.from_mapping(case["policy"])
    assert err.value.details["field"] == case["field"]
    assert case["message"] in err.value.message


def test_routes_cover_every_kind_and_severity() -> None:
    cases = load(FIXTURE, "routes")
    assert {AlertKind(c["kind"]) for c in cases} == set(AlertKind)
    assert {AlertSeverity.parse(c["severity"]) for c in cases} == set(AlertSeverity)


def test_shipped_defaults_send_everything_to_the_log_file() -> None:
    policy = AlertPolicy.from_mapping(yaml.safe_load(DEFAULTS.read_text()))
    for kind in AlertKind:
        for severity in AlertSeverity:
            assert route(policy, kind, severity) == ("log",)


def test_a_policy_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="must be a mapping"):
        AlertPolicy.from_mapping(["log"])  # type: ignore[arg-type]


def test_backoff_doubles() -> None:
    d = Delivery(attempts=4, backoff_seconds=0.5)
    assert [backoff(d, n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_condition_key_is_kind_and_subject() -> None:
    assert condition_key(AlertKind.DRIFT, "erp.res_partner") == "drift:erp.res_partner"
    assert condition_key(AlertKind.RUN_FAILURE, "r1") != condition_key(AlertKind.DRIFT, "r1")


def test_severities_are_ordered() -> None:
    assert AlertSeverity.INFO < AlertSeverity.WARNING < AlertSeverity.CRITICAL
