from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import params

from policies.errors import ValidationFailed
from policies.query_correct import Correction, correct

FIXTURE = "query_correct.yaml"


def _corrections(case: dict[str, Any]) -> list[Correction]:
    return [Correction(kind, value) for kind, value in case["corrections"]]


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_correct(case: dict[str, Any]) -> None:
    assert correct(case["sql"], "duckdb", _corrections(case)) == case["expected"]


@pytest.mark.parametrize("case", params(FIXTURE, "refusals"))
def test_refused(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        correct(case["sql"], "duckdb", _corrections(case))
    assert case["message"] in exc.value.message
