from __future__ import annotations

import re
from typing import Any

import pytest
from fixture_cases import load, params
from hypothesis import given
from hypothesis import strategies as st

from policies.errors import ValidationFailed
from policies.naming import (
    Layer,
    TableRef,
    parse_table_ref,
    parse_version_identifier,
    shadow_schema,
    validate_identifier,
    version_identifier,
)

FIXTURE = "naming.yaml"


def _refs(kind: str) -> list[Any]:
    cases = load(FIXTURE, "table_refs")[kind]
    return [pytest.param(c, id=repr(c["input"])) for c in cases]


@pytest.mark.parametrize("case", _refs("valid"))
def test_parse_table_ref(case: dict[str, Any]) -> None:
    ref = parse_table_ref(case["input"])
    assert ref == TableRef(Layer(case["layer"]), case["name"])
    assert ref.canonical == str(ref) == case["canonical"]
    assert ref.shadow_schema == case["shadow_schema"]
    assert ref.layer.rank == case["rank"]


@pytest.mark.parametrize("case", _refs("invalid"))
def test_parse_table_ref_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_table_ref(case["input"])
    assert exc.value.code == case["error"]
    assert exc.value.details["value"] is not None
    if "message_contains" in case:
        assert case["message_contains"] in exc.value.message


@pytest.mark.parametrize("case", params(FIXTURE, "identifiers", lambda c: repr(c["input"])))
def test_validate_identifier(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert validate_identifier(case["input"]) == case["input"]
    else:
        with pytest.raises(ValidationFailed) as exc:
            validate_identifier(case["input"], "column name")
        assert exc.value.details == {"value": case["input"], "field": "column name"}
        assert "column name" in exc.value.message


@pytest.mark.parametrize(
    "case", params(FIXTURE, "version_identifiers", lambda c: f"{c['table']}-{c['version']}")
)
def test_version_identifier(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValidationFailed) as exc:
            version_identifier(case["table"], case["version"])
        assert exc.value.code == case["error"]
    else:
        assert version_identifier(case["table"], case["version"]) == case["expected"]
        ref = TableRef(Layer.SILVER, case["table"])
        assert ref.version_identifier(case["version"]) == case["expected"]


@pytest.mark.parametrize(
    "case", params(FIXTURE, "parse_version_identifier", lambda c: repr(c["input"]))
)
def test_parse_version_identifier(case: dict[str, Any]) -> None:
    expected = tuple(case["expected"]) if case["expected"] is not None else None
    assert parse_version_identifier(case["input"]) == expected


def test_fixture_covers_every_layer() -> None:
    assert {Layer(c["layer"]) for c in load(FIXTURE, "table_refs")["valid"]} == set(Layer)


def test_layers_are_in_build_order() -> None:
    assert [layer.value for layer in sorted(Layer, key=lambda la: la.rank)] == [
        "bronze",
        "silver",
        "joins",
        "gold",
    ]
    assert {shadow_schema(layer) for layer in Layer} == {f"{la.value}__shadow" for la in Layer}


identifiers = st.from_regex(re.compile(r"[a-z][a-z0-9_]{0,20}", re.ASCII), fullmatch=True).filter(
    lambda s: "__" not in s
)


@given(identifiers, st.integers(min_value=1, max_value=10**6))
def test_version_identifier_round_trips(table: str, version: int) -> None:
    assert parse_version_identifier(version_identifier(table, version)) == (table, version)


@given(st.sampled_from(list(Layer)), identifiers)
def test_table_ref_round_trips(layer: Layer, name: str) -> None:
    ref = TableRef(layer, name)
    assert parse_table_ref(ref.canonical) == ref
