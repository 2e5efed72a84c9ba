from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixture_cases import load, params
from hypothesis import given
from hypothesis import strategies as st

from policies.decisions import Decision, Verdict
from policies.drift import DriftSeverity
from policies.errors import SpyneError, ValidationFailed
from policies.lifecycle import TableState
from policies.publish import PUBLISH_RULES, GateStatus, PublishFacts, decide_publish
from policies.publishing import PublishingPolicy, TableOverride
from policies.roles import Role

FIXTURE = "publish.yaml"
DEFAULTS = Path(__file__).resolve().parents[2] / "policies" / "defaults" / "publishing.yaml"


def facts(overrides: dict[str, Any]) -> PublishFacts:
    raw = {**load(FIXTURE, "base"), **overrides}
    return PublishFacts(
        table=raw["table"],
        table_state=TableState(raw["table_state"]),
        candidate_version=raw["candidate_version"],
        active_version=raw["active_version"],
        gate_status=GateStatus(raw["gate_status"]),
        drift=DriftSeverity[raw["drift"]],
        explicit=raw["explicit"],
        actor_role=None if raw["actor_role"] is None else Role.parse(raw["actor_role"]),
        auto_publish=raw["auto_publish"],
    )


def check(decision: Decision, case: dict[str, Any]) -> None:
    assert decision.verdict == Verdict[case["verdict"]]
    assert [r.rule for r in decision.reasons] == case["rules"]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if decision.allowed:
        decision.raise_unless_allowed()
        return
    with pytest.raises(SpyneError) as exc:
        decision.raise_unless_allowed()
    if "error" in case:
        assert exc.value.code == case["error"]
    assert exc.value.details["rule"] == case["rules"][0]
    assert exc.value.details["verdict"] == case["verdict"]


@pytest.mark.parametrize("case", params(FIXTURE, "decisions"))
def test_decide_publish(case: dict[str, Any]) -> None:
    f = facts(case["facts"])
    decision = decide_publish(f)
    check(decision, case)
    for reason in decision.reasons:
        # Every reason names the table and the version it is about.
        assert f.table in reason.message
        assert f"v{f.candidate_version}" in reason.message
        assert reason.details["table"] == f.table
        assert reason.details["version"] == f.candidate_version


@pytest.mark.parametrize("case", params(FIXTURE, "invalid_facts"))
def test_invalid_facts(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        facts(case["facts"])
    assert exc.value.code == case["error"]


def test_fixture_triggers_every_rule() -> None:
    cases = load(FIXTURE, "decisions")
    for rule in PUBLISH_RULES:
        assert any(not rule(facts(c["facts"])).allowed for c in cases), rule.__name__
        assert any(rule(facts(c["facts"])).allowed for c in cases), rule.__name__


def test_fixture_covers_every_state_gate_status_and_verdict() -> None:
    cases = [facts(c["facts"]) for c in load(FIXTURE, "decisions")]
    assert {f.table_state for f in cases} == set(TableState)
    assert {f.gate_status for f in cases} == set(GateStatus)
    assert {f.drift for f in cases} == set(DriftSeverity)
    verdicts = {Verdict[c["verdict"]] for c in load(FIXTURE, "decisions")}
    assert verdicts == {Verdict.ALLOW, Verdict.REQUIRE_APPROVAL, Verdict.BLOCK}


def test_rule_order_is_the_documented_one() -> None:
    assert [r.__name__ for r in PUBLISH_RULES] == [
        "publish_lifecycle",
        "publish_role",
        "publish_already_active",
        "publish_gates",
        "publish_drift",
        "publish_approval",
    ]


def test_gate_status_values() -> None:
    assert [s.value for s in GateStatus] == ["passed", "failed", "not_run"]


def test_facts_canonicalise_the_table() -> None:
    assert facts({"table": " gold.daily_sales "}).table == "gold.daily_sales"


@given(
    table_state=st.sampled_from(list(TableState)),
    candidate=st.integers(1, 5),
    active=st.none() | st.integers(1, 5),
    gate=st.sampled_from(list(GateStatus)),
    drift=st.sampled_from(list(DriftSeverity)),
    explicit=st.booleans(),
    role=st.none() | st.sampled_from(list(Role)),
    auto=st.booleans(),
)
def test_publish_is_the_most_restrictive_rule(
    table_state: TableState,
    candidate: int,
    active: int | None,
    gate: GateStatus,
    drift: DriftSeverity,
    explicit: bool,
    role: Role | None,
    auto: bool,
) -> None:
    f = PublishFacts(
        "silver.customers", table_state, candidate, active, gate, drift, explicit, role, auto
    )
    decision = decide_publish(f)
    parts = [rule(f) for rule in PUBLISH_RULES]
    assert decision.verdict == max(p.verdict for p in parts)
    assert len(decision.reasons) == sum(len(p.reasons) for p in parts)
    if decision.allowed:
        # Nothing unsafe is ever published.
        assert gate == GateStatus.PASSED
        assert drift < DriftSeverity.BREAKING
        assert table_state in {TableState.SHADOW, TableState.ACTIVE}
        assert active is None or candidate > active
        if explicit:
            assert role == Role.ADMIN
        else:
            assert table_state == TableState.ACTIVE and auto
            assert role in (Role.ENGINEER, Role.ADMIN)


# --- the publishing policy --------------------------------------------------------------------


@pytest.mark.parametrize("case", params(FIXTURE, "policy_valid"))
def test_policy_valid(case: dict[str, Any]) -> None:
    policy = PublishingPolicy.from_mapping(case["data"])
    for table, expected in case["auto_publish"].items():
        assert policy.auto_publish_for(table) is expected, table
    for table, hours in case["retention_hours"].items():
        assert policy.retention_for(table) == timedelta(hours=hours), table


@pytest.mark.parametrize("case", params(FIXTURE, "policy_invalid"))
def test_policy_invalid(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        PublishingPolicy.from_mapping(case["data"])
    assert exc.value.details["field"] == case["field"]
    assert repr(case["field"]) in exc.value.message
    if "message_contains" in case:
        assert case["message_contains"] in exc.value.message


def test_policy_must_be_a_mapping() -> None:
    with pytest.raises(ValidationFailed) as exc:
        PublishingPolicy.from_mapping(["retention_hours", 24])  # type: ignore[arg-type]
    assert "mapping" in exc.value.message


def test_policy_lookup_refuses_a_bad_table_name() -> None:
    with pytest.raises(ValidationFailed):
        PublishingPolicy().auto_publish_for("daily_sales")
    with pytest.raises(ValidationFailed):
        PublishingPolicy().retention_for("platinum.daily_sales")


def test_policy_is_frozen() -> None:
    policy = PublishingPolicy(tables={"gold.daily_sales": TableOverride(auto_publish=False)})
    with pytest.raises(ValueError):
        policy.auto_publish = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        policy.tables["gold.daily_sales"].retention_hours = 1  # type: ignore[misc]


def test_shipped_defaults_match_the_model_defaults() -> None:
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    policy = PublishingPolicy.from_mapping(data)
    assert policy == PublishingPolicy()
    assert policy.retention_hours == 24
    assert policy.auto_publish is True
    assert policy.tables == {}


def test_commented_example_in_the_defaults_is_valid() -> None:
    """The example under ``tables:`` must stay a working override when uncommented."""
    lines = DEFAULTS.read_text(encoding="utf-8").splitlines()
    start = lines.index("tables: {}")
    example = ["tables:"] + [line[1:] for line in lines[start + 1 :] if line.startswith("#  ")]
    policy = PublishingPolicy.from_mapping(yaml.safe_load("\n".join(example)))
    assert policy.tables, "the commented example lost its table"
    (table,) = policy.tables
    assert policy.auto_publish_for(table) is False
    assert policy.retention_for(table) > PublishingPolicy().retention_for(table)
