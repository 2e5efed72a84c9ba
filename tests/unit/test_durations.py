from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fixture_cases import params

from policies.durations import format_duration, parse_duration


@pytest.mark.parametrize("case", params("durations.yaml", "cases", lambda c: repr(c["text"])))
def test_parse_duration(case: dict[str, Any]) -> None:
    parsed = parse_duration(case["text"])
    expected = case["seconds"]
    assert parsed == (None if expected is None else timedelta(seconds=expected))


@pytest.mark.parametrize("seconds", [1, 59, 60, 3600, 5400, 86400, 95400, 604800, 1209601])
def test_format_reads_back(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
