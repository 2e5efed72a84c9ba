from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fixture_cases import params

from policies.durations import parse_duration
from policies.freshness import (
    FreshnessSla,
    FreshnessStatus,
    LastEvaluation,
    alert_moves,
    evaluation_due,
    judge,
    newest_event_time,
    next_delivery_due,
)

FIXTURE = "freshness.yaml"


def sla(case: dict[str, Any]) -> FreshnessSla:
    max_lag = parse_duration(case["sla"]["max_lag"])
    threshold = parse_duration(case["sla"]["alert_threshold"])
    assert max_lag is not None and threshold is not None
    return FreshnessSla(max_lag, threshold, case["sla"].get("schedule"))


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def at(text: str) -> datetime:
    value = when(text)
    assert value is not None
    return value


@pytest.mark.parametrize("case", params(FIXTURE, "judge"))
def test_judge(case: dict[str, Any]) -> None:
    verdict = judge(sla(case), when(case["newest"]), at(case["now"]))
    assert verdict.status == FreshnessStatus[case["status"]]
    assert verdict.to_dict()["lag_s"] == case["lag_s"]
    severity = verdict.alert_severity
    assert (severity.label if severity else None) == case["severity"]
    assert verdict.reason


@pytest.mark.parametrize("case", params(FIXTURE, "next_due"))
def test_next_delivery_due(case: dict[str, Any]) -> None:
    assert next_delivery_due(case["schedule"], at(case["newest"])) == when(case["due"])


@pytest.mark.parametrize("case", params(FIXTURE, "newest"))
def test_newest_event_time(case: dict[str, Any]) -> None:
    landed = [at(t) for t in case["landed"]]
    assert newest_event_time(when(case["previous"]), landed) == when(case["newest"])


@pytest.mark.parametrize("case", params(FIXTURE, "due"))
def test_evaluation_due(case: dict[str, Any]) -> None:
    last = case["last"]
    previous = (
        LastEvaluation(at(last["evaluated_at"]), when(last["newest"])) if last is not None else None
    )
    assert evaluation_due(sla(case), when(case["newest"]), previous, at(case["now"])) is case["due"]


def test_sla_from_a_registered_summary() -> None:
    summary = {"freshness": {"max_lag_s": 172800, "alert_threshold_s": 93600}}
    got = FreshnessSla.from_summary(summary)
    assert got.max_lag.total_seconds() == 172800
    assert got.alert_threshold.total_seconds() == 93600
    assert got.schedule is None
    summary["freshness"]["schedule"] = "0 3 * * *"
    assert FreshnessSla.from_summary(summary).schedule == "0 3 * * *"


@pytest.mark.parametrize("case", params(FIXTURE, "alert_moves"))
def test_alert_moves(case: dict[str, Any]) -> None:
    moves = alert_moves(case["open"], FreshnessStatus[case["verdict"]])
    assert (moves.close, moves.raise_alert) == (case["close"], case["raise"])
