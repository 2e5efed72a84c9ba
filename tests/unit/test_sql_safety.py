from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from fixture_cases import load, params

from policies.errors import ValidationFailed
from policies.sql_safety import SafetyFacts, SafetyPolicy, TableFacts, check_sql

FIXTURE = "sql_safety.yaml"
CORPUS = "sql_corpus.yaml"


def _facts(raw: dict[str, Any] | None) -> SafetyFacts | None:
    if not raw:
        return None
    return SafetyFacts(
        {
            name: TableFacts(
                partitioned=bool(f.get("partitioned", False)),
                row_count=f.get("row_count"),
                time_columns=tuple(f.get("time_columns", ())),
            )
            for name, f in raw.items()
        }
    )


@pytest.mark.parametrize("case", params(FIXTURE, "cases"))
def test_gate(case: dict[str, Any]) -> None:
    policy = SafetyPolicy.from_mapping(case.get("policy"))
    result = check_sql(case["sql"], case["dialect"], policy=policy, facts=_facts(case.get("facts")))
    assert result.decision == case["decision"], result.to_dict()
    if "rule" in case:
        assert case["rule"] in result.rules, result.to_dict()
    if "rewritten" in case:
        assert result.rewritten_sql == case["rewritten"]
    if result.blocked:
        assert result.errors and result.tree is None and result.final_sql is None
    else:
        assert not result.errors


def _corpus() -> list[Any]:
    return [
        pytest.param(q, dialect, id=f"{q['id']}-{dialect}")
        for q in load(CORPUS, "queries")
        for dialect in q["dialects"]
    ]


@pytest.mark.parametrize(("query", "dialect"), _corpus())
def test_corpus_passes(query: dict[str, Any], dialect: str) -> None:
    result = check_sql(query["sql"], dialect)
    assert result.decision == query["decision"], result.to_dict()
    if "rule" in query:
        assert result.rules == [query["rule"]]
    if result.decision == "allow":
        assert result.final_sql == query["sql"].strip()  # untouched: the text as written runs
    if result.decision == "rewrite":
        # Only the LIMIT was added: the rewritten tree without it is the query as parsed.
        assert result.tree is not None
        without = result.tree.copy()
        without.set("limit", None)
        assert without == sqlglot.parse_one(query["sql"], read=dialect)


def test_to_dict_has_the_documented_keys() -> None:
    data = check_sql("SELECT id FROM partners", "postgres").to_dict()
    assert {"decision", "errors", "warnings", "rewritten_sql", "rules"} <= set(data)
    assert data["decision"] == "rewrite"
    assert data["rewritten_sql"] == "SELECT id FROM partners LIMIT 10000"


def test_unknown_dialect_is_refused() -> None:
    from policies.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        check_sql("SELECT 1", "oracle")
    assert exc.value.details["allowed"] == ["duckdb", "postgres", "bigquery"]


def test_policy_refuses_unknown_keys() -> None:
    from policies.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        SafetyPolicy.from_mapping({"default_limt": 5})
    assert exc.value.details["field"] == "default_limt"


def test_partitioned_tables_are_named_layer_and_table() -> None:
    policy = SafetyPolicy.from_mapping({"partitioned_tables": {"Gold.Daily_Sales": ["Order_Date"]}})
    assert policy.partitioned_tables == {"gold.daily_sales": ("order_date",)}
    for wrong in ({"daily_sales": []}, {"gold.daily_sales": ["order date"]}, ["gold.x"]):
        with pytest.raises(ValidationFailed) as refused:
            SafetyPolicy.from_mapping({"partitioned_tables": wrong})
        assert refused.value.details["field"] == "partitioned_tables"


def test_shipped_defaults_are_valid() -> None:
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[2] / "policies" / "defaults" / "query.yaml"
    policy = SafetyPolicy.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert policy.default_limit == 10_000
    assert (policy.max_join_depth, policy.max_subquery_depth) == (5, 3)
