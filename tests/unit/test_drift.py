from __future__ import annotations

import re
from typing import Any

import pytest
from fixture_cases import load, params
from hypothesis import given
from hypothesis import strategies as st

from policies.drift import (
    ChangeKind,
    Column,
    DriftReport,
    DriftSeverity,
    SchemaChange,
    ValueSamples,
    compare_schemas,
    is_same_type,
)
from policies.errors import ValidationFailed

FIXTURE = "drift.yaml"


def column(spec: str) -> Column:
    """``"name TYPE [NOT NULL]"`` -> Column."""
    name, _, rest = spec.partition(" ")
    nullable = not rest.endswith(" NOT NULL")
    return Column(name, rest.removesuffix(" NOT NULL"), nullable)


def columns(specs: list[str] | None) -> list[Column] | None:
    return None if specs is None else [column(s) for s in specs]


def change(expected: dict[str, Any]) -> SchemaChange:
    return SchemaChange(
        ChangeKind(expected["kind"]),
        expected["column"],
        expected["before"],
        expected["after"],
        DriftSeverity[expected["severity"]],
    )


def dialects(case: dict[str, Any]) -> tuple[str, str]:
    both = case.get("dialect", "duckdb")
    return case.get("before_dialect", both), case.get("after_dialect", both)


def pair_id(case: dict[str, Any]) -> str:
    before_d, after_d = dialects(case)
    return f"{before_d}:{case['before']}->{after_d}:{case['after']}"


# --- type pairs -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(FIXTURE, "type_pairs", pair_id))
def test_type_pair(case: dict[str, Any]) -> None:
    before_d, after_d = dialects(case)
    report = compare_schemas(
        [Column("c", case["before"])],
        [Column("c", case["after"])],
        dialect=before_d,
        candidate_dialect=after_d,
    )
    assert report.severity == DriftSeverity[case["severity"]]
    if case["kind"] is None:
        assert report.changes == ()
        assert is_same_type(case["before"], case["after"], before_d, after_d)
        assert is_same_type(case["after"], case["before"], after_d, before_d)
    else:
        assert report.changes == (
            SchemaChange(
                ChangeKind(case["kind"]),
                "c",
                case["before"],
                case["after"],
                DriftSeverity[case["severity"]],
            ),
        )
        assert not is_same_type(case["before"], case["after"], before_d, after_d)


def test_type_pairs_cover_every_spelling_in_the_brief() -> None:
    required = {
        "INTEGER", "INT4", "INT", "BIGINT", "INT8", "INT64", "SMALLINT", "TINYINT", "HUGEINT",
        "FLOAT", "REAL", "DOUBLE", "FLOAT64", "DECIMAL", "NUMERIC", "BIGNUMERIC", "VARCHAR",
        "TEXT", "STRING", "BOOLEAN", "BOOL", "DATE", "TIMESTAMP", "DATETIME",
        "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ",
    }  # fmt: skip
    seen = {
        re.sub(r"\(.*\)", "", t).upper()
        for c in load(FIXTURE, "type_pairs")
        for t in (c["before"], c["after"])
    }
    assert required <= seen, sorted(required - seen)
    parameterised = {t for c in load(FIXTURE, "type_pairs") for t in (c["before"], c["after"])}
    for prefix in ("DECIMAL(", "NUMERIC(", "VARCHAR("):
        assert any(t.startswith(prefix) for t in parameterised), prefix


def test_type_pairs_cover_every_dialect_and_cross_dialect_pairs() -> None:
    pairs = [dialects(c) for c in load(FIXTURE, "type_pairs")]
    for d in ("duckdb", "postgres", "bigquery"):
        assert (d, d) in pairs, d
    assert {p for p in pairs if p[0] != p[1]} >= {
        ("bigquery", "duckdb"),
        ("duckdb", "bigquery"),
        ("postgres", "bigquery"),
        ("postgres", "duckdb"),
    }


def test_type_pairs_cover_every_severity_and_type_kind() -> None:
    pairs = load(FIXTURE, "type_pairs")
    assert {DriftSeverity[c["severity"]] for c in pairs} == set(DriftSeverity)
    assert {c["kind"] for c in pairs} == {None, ChangeKind.TYPE_WIDENED, ChangeKind.TYPE_CHANGED}


def test_widening_is_one_way() -> None:
    """A pair that widens one way (without a warning) narrows the other way."""
    for case in load(FIXTURE, "type_pairs"):
        if case["kind"] == "type_widened" and case["severity"] == "ADDITIVE":
            before_d, after_d = dialects(case)
            back = compare_schemas(
                [Column("c", case["after"])],
                [Column("c", case["before"])],
                dialect=after_d,
                candidate_dialect=before_d,
            )
            assert back.severity == DriftSeverity.BREAKING, case


# --- whole schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(FIXTURE, "schemas"))
def test_schema(case: dict[str, Any]) -> None:
    samples = case.get("samples")
    report = compare_schemas(
        columns(case["active"]),
        columns(case["candidate"]) or [],
        dialect=case.get("dialect", "duckdb"),
        candidate_dialect=case.get("candidate_dialect"),
        samples=ValueSamples(samples["before"], samples["after"]) if samples else None,
    )
    assert report.changes == tuple(change(c) for c in case["changes"])
    assert report.severity == DriftSeverity[case["severity"]]
    assert report.breaking == (report.severity == DriftSeverity.BREAKING)
    if "summary_contains" in case:
        assert case["summary_contains"] in report.summary()
    data = report.to_dict()
    assert data["severity"] == case["severity"]
    assert data["changes"] == [dict(c) for c in case["changes"]]
    assert data["breaking"] is report.breaking


@pytest.mark.parametrize("case", params(FIXTURE, "invalid"))
def test_invalid_schema(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        compare_schemas(columns(case["active"]), columns(case["candidate"]) or [])
    assert exc.value.code == case["error"]
    assert exc.value.details["column"] == case["column"]


def test_schemas_cover_every_change_kind_and_severity() -> None:
    cases = load(FIXTURE, "schemas")
    kinds = {ChangeKind(c["kind"]) for case in cases for c in case["changes"]}
    assert kinds == set(ChangeKind)
    assert {DriftSeverity[case["severity"]] for case in cases} == set(DriftSeverity)


def test_summary_is_one_line_and_truncated() -> None:
    active = [Column(f"c{i}", "INTEGER") for i in range(10)]
    report = compare_schemas(active, [])
    summary = report.summary()
    assert "\n" not in summary
    assert summary.startswith("BREAKING: ")
    assert summary.endswith("and 5 more changes")
    assert summary.count("removed") == 5


def test_empty_report() -> None:
    report = DriftReport(DriftSeverity.NONE)
    assert not report.breaking
    assert report.summary() == "no schema changes"
    assert report.to_dict() == {
        "severity": "NONE",
        "breaking": False,
        "summary": "no schema changes",
        "changes": [],
    }


def test_severities_are_ordered() -> None:
    assert (
        DriftSeverity.NONE < DriftSeverity.ADDITIVE < DriftSeverity.WARNING < DriftSeverity.BREAKING
    )
    assert max(DriftSeverity.ADDITIVE, DriftSeverity.BREAKING) == DriftSeverity.BREAKING


# --- properties -------------------------------------------------------------------------------

# Groups of spellings of one type; any two members are the same type.
ALIASES: list[list[str]] = [
    ["INTEGER", "INT", "INT4", "integer", "SIGNED"],
    ["BIGINT", "INT8", "INT64", "long"],
    ["SMALLINT", "INT2", "SHORT"],
    ["TINYINT", "INT1"],
    ["HUGEINT", "INT128"],
    ["FLOAT", "REAL", "FLOAT4"],
    ["DOUBLE", "FLOAT8", "DOUBLE PRECISION"],
    ["DECIMAL(10,2)", "NUMERIC(10, 2)", "decimal(10,2)"],
    ["DECIMAL(18,3)", "DECIMAL", "NUMERIC"],
    ["DECIMAL(38,9)", "NUMERIC(38,9)"],
    # DuckDB ignores a VARCHAR length: every string type is one type
    ["VARCHAR", "TEXT", "STRING", "CHARACTER VARYING", "VARCHAR(20)", "CHAR(20)", "BPCHAR"],
    ["BOOLEAN", "BOOL", "LOGICAL"],
    ["DATE"],
    ["TIMESTAMP", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"],
    ["TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"],
    ["UUID"],
    ["JSON"],
]
# One type as each engine's information schema spells it: (duckdb, postgres, bigquery).
ACROSS: list[tuple[str, str, str]] = [
    ("BIGINT", "bigint", "INT64"),
    ("DOUBLE", "double precision", "FLOAT64"),
    ("VARCHAR", "text", "STRING"),
    ("BOOLEAN", "boolean", "BOOL"),
    ("DATE", "date", "DATE"),
    ("TIMESTAMP", "timestamp without time zone", "DATETIME"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone", "TIMESTAMP"),
    ("DECIMAL(38,9)", "numeric(38,9)", "NUMERIC"),
    ("DECIMAL(10,2)", "numeric(10,2)", "NUMERIC(10,2)"),
]
DIALECT_INDEX = {"duckdb": 0, "postgres": 1, "bigquery": 2}
TYPES = [t for group in ALIASES for t in group]

names = st.from_regex(re.compile(r"[a-z][a-z0-9_]{0,8}", re.ASCII), fullmatch=True)
column_lists = st.lists(
    st.builds(Column, names, st.sampled_from(TYPES), st.booleans()),
    max_size=8,
    unique_by=lambda c: c.name.lower(),
)


@given(column_lists)
def test_a_schema_has_no_drift_against_itself(cols: list[Column]) -> None:
    report = compare_schemas(cols, cols)
    assert report == DriftReport(DriftSeverity.NONE, ())


@given(column_lists, st.data())
def test_reordering_alone_is_never_drift(cols: list[Column], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(cols))
    report = compare_schemas(cols, shuffled)
    assert report.severity == DriftSeverity.NONE
    assert all(c.kind == ChangeKind.COLUMN_REORDERED for c in report.changes)
    assert bool(report.changes) == (list(shuffled) != list(cols))


@given(column_lists, column_lists)
def test_severity_is_the_worst_change(active: list[Column], candidate: list[Column]) -> None:
    report = compare_schemas(active, candidate)
    assert report.severity == max((c.severity for c in report.changes), default=DriftSeverity.NONE)
    assert report.breaking == any(c.severity == DriftSeverity.BREAKING for c in report.changes)


@given(column_lists, st.data())
def test_dropping_a_column_is_breaking(cols: list[Column], data: st.DataObject) -> None:
    if not cols:
        return
    drop = data.draw(st.sampled_from(cols))
    report = compare_schemas(cols, [c for c in cols if c is not drop])
    assert report.breaking
    assert (
        SchemaChange(
            ChangeKind.COLUMN_REMOVED, drop.name, drop.data_type, None, DriftSeverity.BREAKING
        )
        in report.changes
    )


@given(column_lists, st.data())
def test_respelling_types_and_names_is_not_drift(cols: list[Column], data: st.DataObject) -> None:
    group_of = {t: group for group in ALIASES for t in group}
    respelled = [
        Column(c.name.upper(), data.draw(st.sampled_from(group_of[c.data_type])), c.nullable)
        for c in cols
    ]
    assert compare_schemas(cols, respelled).changes == ()


@given(st.sampled_from(TYPES), st.sampled_from(TYPES), st.sampled_from(TYPES))
def test_additive_widening_is_transitive(a: str, b: str, c: str) -> None:
    def severity(x: str, y: str) -> DriftSeverity:
        return compare_schemas([Column("v", x)], [Column("v", y)]).severity

    if severity(a, b) <= DriftSeverity.ADDITIVE and severity(b, c) <= DriftSeverity.ADDITIVE:
        assert severity(a, c) <= DriftSeverity.ADDITIVE


@given(column_lists, names, st.sampled_from(TYPES), st.booleans())
def test_adding_a_column_is_never_breaking(
    cols: list[Column], name: str, data_type: str, nullable: bool
) -> None:
    if name in {c.name.lower() for c in cols}:
        return
    report = compare_schemas(cols, [*cols, Column(name, data_type, nullable)])
    expected = DriftSeverity.ADDITIVE if nullable else DriftSeverity.WARNING
    assert report.severity == expected


@given(
    st.lists(st.tuples(names, st.sampled_from(ACROSS)), max_size=8, unique_by=lambda c: c[0]),
    st.sampled_from(sorted(DIALECT_INDEX)),
    st.sampled_from(sorted(DIALECT_INDEX)),
)
def test_one_schema_read_from_two_engines_is_not_drift(
    cols: list[tuple[str, tuple[str, str, str]]], a: str, b: str
) -> None:
    before = [Column(name, spellings[DIALECT_INDEX[a]]) for name, spellings in cols]
    after = [Column(name, spellings[DIALECT_INDEX[b]]) for name, spellings in cols]
    assert compare_schemas(before, after, dialect=a, candidate_dialect=b).changes == ()
