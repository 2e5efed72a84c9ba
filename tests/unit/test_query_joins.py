"""A query's join is an accepted join only on the same tables and the whole accepted key."""

from __future__ import annotations

from typing import Any

import pytest

from policies.query_joins import ReviewedJoin, match, on_columns
from tests.unit.fixture_cases import load, params

ACCEPTED = [
    ReviewedJoin(
        **{
            **j,
            "child_columns": tuple(j["child_columns"]),
            "parent_columns": tuple(j["parent_columns"]),
        }
    )
    for j in load("query_joins.yaml", "accepted")
]


@pytest.mark.parametrize("case", params("query_joins.yaml", "cases"))
def test_match(case: dict[str, Any]) -> None:
    others = [case["left"], *case.get("also", [])]
    found = match(case["right"], others, on_columns(case["on"], "duckdb"), ACCEPTED)
    assert (found.id if found else None) == case["expected"]
