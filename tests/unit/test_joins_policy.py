from __future__ import annotations

from typing import Any

import pytest
from fixture_cases import load, params

from policies.joins.candidates import best_per_child, candidate_pairs, drop_reversed
from policies.joins.names import NameEvidence, key_named, name_evidence
from policies.joins.profiles import (
    ColumnProfile,
    Sketch,
    TableProfile,
    containment,
    sketch_rate,
    type_family,
)
from policies.joins.risk import (
    JoinStats,
    Revalidation,
    decide_revalidation,
    flags,
    risk_level,
)
from policies.joins.scoring import PairEvidence, score

FIXTURE = "joins.yaml"


@pytest.mark.parametrize(
    "case", load(FIXTURE, "name_evidence"), ids=lambda c: f"{c[1]}->{c[2]}.{c[3]}"
)
def test_name_evidence(case: list[Any]) -> None:
    child_table, child, parent_table, parent, expected = case
    found = name_evidence(child_table, child, parent_table, parent)
    assert found.score == expected
    assert bool(found.reason) == (expected > 0)


@pytest.mark.parametrize("case", load(FIXTURE, "key_named"), ids=lambda c: str(c[0]))
def test_key_named(case: list[Any]) -> None:
    assert key_named(case[0]) is case[1]


def _evidence(raw: dict[str, Any]) -> PairEvidence:
    return PairEvidence(
        child_table="orders",
        child_columns=("customer_id",),
        parent_table="customers",
        parent_columns=("id",),
        name=NameEvidence(raw["name"], "named" if raw["name"] else ""),
        containment=raw["containment"],
        containment_exact=raw.get("exact", False),
        sample=raw.get("sample", 0),
        parent_uniqueness=raw["uniqueness"],
        range_fit=raw["range_fit"],
        small_values=raw.get("small", False),
    )


@pytest.mark.parametrize("case", params(FIXTURE, "scoring"))
def test_scoring(case: dict[str, Any]) -> None:
    scored = score(_evidence(case["evidence"]))
    assert scored.confidence == case["confidence"]
    for words in case["reason"]:
        assert words in scored.reason


@pytest.mark.parametrize("case", load(FIXTURE, "risk_level"), ids=lambda c: str(c[0]))
def test_risk_level(case: list[Any]) -> None:
    assert risk_level(case[0]).value == case[1]


@pytest.mark.parametrize("case", params(FIXTURE, "stats"))
def test_stats(case: dict[str, Any]) -> None:
    stats = JoinStats(**case["counts"])
    assert stats.null_pct == case["null_pct"]
    assert stats.orphan_pct == case["orphan_pct"]
    assert stats.fan_out_avg == case["fan_out_avg"]
    assert stats.cardinality.value == case["cardinality"]
    assert [f.value for f in flags(stats)] == case["flags"]
    assert JoinStats.from_dict(stats.to_dict()) == stats


@pytest.mark.parametrize("case", params(FIXTURE, "revalidation"))
def test_revalidation(case: dict[str, Any]) -> None:
    decision = decide_revalidation(
        Revalidation(JoinStats(**case["discovered"]), JoinStats(**case["now"]))
    )
    assert sorted(r.rule for r in decision.reasons) == sorted(case["blocked_by"])
    assert decision.allowed == (not case["blocked_by"])


def _profiles(tables: dict[str, Any]) -> list[TableProfile]:
    out = []
    for name, t in tables.items():
        columns = tuple(
            ColumnProfile(
                name=c[0],
                data_type=c[1],
                non_null=c[2],
                distinct=c[3],
                distinct_exact=True,
                min_value=c[4],
                max_value=c[5],
                sketch=None if c[6] is None else Sketch(1.0, frozenset(c[6])),
            )
            for c in t["columns"]
        )
        composite = tuple(tuple(k) for k in t.get("composite", []))
        out.append(TableProfile(name, 1, t["rows"], columns, composite))  # type: ignore[arg-type]
    return out


def _label(e: PairEvidence) -> str:
    return (
        f"{e.child_table}.{','.join(e.child_columns)} -> "
        f"{e.parent_table}.{','.join(e.parent_columns)}"
    )


@pytest.mark.parametrize("case", params(FIXTURE, "pairs"))
def test_candidate_pairs(case: dict[str, Any]) -> None:
    pairs = candidate_pairs(_profiles(case["tables"]), min_confidence=0.5)
    assert sorted(_label(e) for e in pairs) == sorted(case["pairs"])


def test_value_overlap_alone_is_met_only_when_low_confidences_are_asked_for() -> None:
    (case,) = [c for c in load(FIXTURE, "pairs") if c["id"] == "unnamed_overlap_is_not_even_met"]
    tables = case["tables"]
    assert candidate_pairs(_profiles(tables), min_confidence=0.5) == []
    (pair,) = candidate_pairs(_profiles(tables), min_confidence=0.2)
    assert score(pair).confidence < 0.5


def test_sketches_estimate_containment_on_a_shared_part_of_the_hash_space() -> None:
    space = 2**64
    parent = Sketch(0.5, frozenset(range(0, space // 2, space // 64)))
    child = Sketch(1.0, frozenset(list(range(0, space, space // 64))[::2]))
    estimate, sample = containment(child, parent)
    assert sample == 16 and estimate == 1.0
    assert containment(Sketch(1.0, frozenset()), parent) == (None, 0)
    assert sketch_rate(64) == 1.0 and sketch_rate(1280) == 0.1


def test_type_families_fold_both_warehouses_names() -> None:
    assert type_family("INT64") == type_family("INTEGER") == type_family("BIGINT")
    assert type_family("STRING") == type_family("VARCHAR")
    assert type_family("DATE") != type_family("TIMESTAMP")


def test_one_parent_per_child_and_one_direction_per_pair() -> None:
    def e(child: str, parent: str) -> PairEvidence:
        return PairEvidence(
            f"main.{child}", ("k",), f"main.{parent}", ("k",), NameEvidence(1, "x"), 1.0
        )

    entries = [(e("c1_a", "c2_b"), 0.9), (e("c1_a", "c1_b"), 0.9), (e("c1_a", "c3_b"), 0.5)]
    assert [x.parent_table for x, _ in best_per_child(entries, 1)] == ["main.c1_b"]
    both = [(e("a", "b"), 0.9), (e("b", "a"), 0.7)]
    assert [x.child_table for x, _ in drop_reversed(both)] == ["main.a"]


def test_profiles_round_trip_through_json() -> None:
    (profile,) = _profiles(load(FIXTURE, "pairs")[0]["tables"])[:1]
    assert TableProfile.from_dict(profile.to_dict()) == profile
