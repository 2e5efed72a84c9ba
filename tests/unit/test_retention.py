from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fixture_cases import load, params
from hypothesis import given
from hypothesis import strategies as st

from policies.errors import ValidationFailed
from policies.retention import RetainedVersion, is_retained, versions_to_drop

FIXTURE = "retention.yaml"
_RELATIVE = re.compile(r"^now(?P<sign>[+-])(?P<n>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def when(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    m = _RELATIVE.match(value)
    if m:
        delta = timedelta(**{_UNITS[m["unit"]]: int(m["n"])})
        return now + delta if m["sign"] == "+" else now - delta
    return datetime.fromisoformat(value)


def version(row: list[Any], now: datetime) -> RetainedVersion:
    number, created, last_active, active = row
    created_at = when(created, now)
    assert created_at is not None
    return RetainedVersion(number, created_at, when(last_active, now), active)


def fixture_now(case: dict[str, Any] | None = None) -> datetime:
    return datetime.fromisoformat((case or {}).get("now") or load(FIXTURE, "now"))


@pytest.mark.parametrize("case", params(FIXTURE, "drop"))
def test_versions_to_drop(case: dict[str, Any]) -> None:
    now = fixture_now()
    versions = [version(row, now) for row in case["versions"]]
    retention = timedelta(hours=case["retention_hours"])
    assert versions_to_drop(versions, now=now, retention=retention) == tuple(case["drop"])


@pytest.mark.parametrize("case", params(FIXTURE, "is_retained"))
def test_is_retained(case: dict[str, Any]) -> None:
    now = fixture_now()
    v = version(case["version"], now)
    assert is_retained(v, now, timedelta(hours=case["retention_hours"])) is case["retained"]


@pytest.mark.parametrize("case", params(FIXTURE, "invalid"))
def test_invalid(case: dict[str, Any]) -> None:
    now = fixture_now(case)
    with pytest.raises(ValidationFailed) as exc:
        versions = [version(row, now.replace(tzinfo=now.tzinfo or UTC)) for row in case["versions"]]
        versions_to_drop(versions, now=now, retention=timedelta(hours=case["retention_hours"]))
    assert exc.value.details["field"] == case["field"]
    assert case["message_contains"] in exc.value.message


def test_fixture_now_is_timezone_aware() -> None:
    assert fixture_now().utcoffset() == timedelta(0)


def test_fixture_exercises_every_guard() -> None:
    cases = load(FIXTURE, "drop")
    now = fixture_now()
    kept_active = kept_newest = kept_window = dropped = False
    for case in cases:
        versions = [version(row, now) for row in case["versions"]]
        if not versions:
            continue
        newest = max(v.version for v in versions)
        retention = timedelta(hours=case["retention_hours"])
        for v in versions:
            in_window = v.anchor + retention > now
            if v.version in case["drop"]:
                dropped = True
            elif v.is_active and not in_window:
                kept_active = True
            elif v.version == newest and not v.is_active and not in_window:
                kept_newest = True
            elif in_window and not v.is_active and v.version != newest:
                kept_window = True
    assert kept_active and kept_newest and kept_window and dropped


# --- properties -------------------------------------------------------------------------------

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
offsets = st.timedeltas(min_value=timedelta(days=-60), max_value=timedelta(hours=2))
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


@st.composite
def version_sets(draw: st.DrawFn) -> list[RetainedVersion]:
    numbers = draw(st.lists(st.integers(1, 50), unique=True, max_size=10))
    active = draw(st.none() | st.sampled_from(numbers)) if numbers else None
    out = []
    for n in numbers:
        zone = draw(zones)
        created = (NOW + draw(offsets)).astimezone(zone)
        last = draw(st.none() | offsets)
        out.append(RetainedVersion(n, created, None if last is None else NOW + last, n == active))
    return out


retentions = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


@given(version_sets(), retentions)
def test_never_drops_the_active_or_newest_version(
    versions: list[RetainedVersion], retention: timedelta
) -> None:
    dropped = versions_to_drop(versions, now=NOW, retention=retention)
    assert list(dropped) == sorted(set(dropped))
    assert set(dropped) <= {v.version for v in versions}
    if versions:
        assert max(v.version for v in versions) not in dropped
    assert not {v.version for v in versions if v.is_active} & set(dropped)


@given(version_sets(), retentions)
def test_drops_exactly_what_is_not_retained(
    versions: list[RetainedVersion], retention: timedelta
) -> None:
    dropped = set(versions_to_drop(versions, now=NOW, retention=retention))
    newest = max((v.version for v in versions), default=None)
    for v in versions:
        expected = v.version != newest and not is_retained(v, NOW, retention)
        assert (v.version in dropped) == expected
        if v.version in dropped:
            assert v.anchor + retention <= NOW


@given(version_sets(), retentions, retentions)
def test_a_longer_window_drops_no_more(
    versions: list[RetainedVersion], a: timedelta, b: timedelta
) -> None:
    short, long = sorted((a, b))
    assert set(versions_to_drop(versions, now=NOW, retention=long)) <= set(
        versions_to_drop(versions, now=NOW, retention=short)
    )


@given(
    version_sets(), retentions, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9))
)
def test_waiting_drops_no_less(
    versions: list[RetainedVersion], retention: timedelta, later: timedelta
) -> None:
    assert set(versions_to_drop(versions, now=NOW, retention=retention)) <= set(
        versions_to_drop(versions, now=NOW + later, retention=retention)
    )


def test_naive_datetimes_are_refused_everywhere() -> None:
    aware = RetainedVersion(1, NOW, None, False)
    with pytest.raises(ValidationFailed):
        is_retained(aware, NOW.replace(tzinfo=None), timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        RetainedVersion(1, NOW.replace(tzinfo=None), None, False)
    with pytest.raises(ValidationFailed):
        RetainedVersion(1, NOW, NOW.replace(tzinfo=None), False)
