"""Mixed grains: an aggregate over a table a join repeats, from fixture cases."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

from policies.query_grain import RULE, GrainFinding, KeyFacts, mixed_grain
from tests.unit.fixture_cases import load, params


def _sets(raw: list[list[str]] | None) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(s) for s in raw or [])


def _keys() -> dict[str, KeyFacts]:
    out = {}
    for name, raw in load("query_grain.yaml", "keys").items():
        facts = KeyFacts(
            _sets(raw.get("unique")), _sets(raw.get("repeated")), frozenset(raw.get("columns", []))
        )
        out[name] = facts
        out[name.split(".", 1)[1]] = facts
    return out


@pytest.mark.parametrize("case", params("query_grain.yaml", "cases"))
def test_mixed_grain(case: dict[str, Any]) -> None:
    found = mixed_grain(sqlglot.parse_one(case["sql"], read="duckdb"), _keys())
    got = [
        {"aggregate": f.aggregate, "table": f.table, "repeated_by": f.repeated_by} for f in found
    ]
    assert got == case["expected"]


def test_the_message_says_why_and_what_to_do() -> None:
    finding = GrainFinding("SUM(o.amount)", "gold.orders", "silver.order_lines", ("order_id",))
    assert "order_id is not unique there" in finding.message
    assert "subquery" in finding.message and f"--override {RULE}" in finding.message


def test_a_known_unique_key_is_never_repeated() -> None:
    facts = KeyFacts(unique=_sets([["id"]]), repeated=_sets([["id", "day"]]))
    assert not facts.repeats(frozenset({"id", "day"}))
    assert KeyFacts(repeated=_sets([["a", "b"]])).repeats(frozenset({"a"}))
