"""A table's gate on a real DuckDB warehouse, SQLite catalog and GE: row floor, dbt tests, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_gates import NODE, TESTS
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.gates import suites
from orchestration.gates.suites import MIN_ROWS_PARAMETER, suite_from_dbt_node, write_suite
from orchestration.gates.table_gate import run_table_gate
from orchestration.identity import Actor
from orchestration.runtime import Runtime, runtime
from policies.errors import NotFound, SpyneError, ValidationFailed
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

REF = TableRef(Layer.SILVER, "orders")
ROW_COUNT = "expect_table_row_count_to_be_between"


@pytest.fixture
def rt(installed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """A new install whose silver.orders is gated by the suite generated from its dbt node."""
    root = tmp_path / "expectations"
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", root)
    write_suite("silver", "orders", suite_from_dbt_node(NODE, TESTS))
    live = runtime()
    live.catalog.create_principal("builder", Role.ENGINEER, created_by="test")
    live.catalog.set_mode(SystemMode.INGESTION_READY, "test")
    return live


def _actor(rt: Runtime) -> Actor:
    return Actor(next(p for p in rt.catalog.list_principals() if p.name == "builder"))


def build(rt: Runtime, rows: int) -> int:
    svc = rt.service()
    version = svc.allocate_version(_actor(rt), REF)
    rt.warehouse.create_version(
        REF,
        version,
        f"select range as id, 100 + range as customer_id,"
        f" ['new', 'paid', 'shipped'][1 + range % 3] as status from range({rows})",
    )
    svc.register_build(_actor(rt), REF, version, None)
    return version


def promote(rt: Runtime, version: int) -> None:
    admin, _ = rt.catalog.create_principal(f"admin{version}", Role.ADMIN, created_by="test")
    plan = rt.service().promote(Actor(admin), REF.canonical, version)
    assert plan.applied


def active_with(rt: Runtime, rows: int) -> int:
    version = build(rt, rows)
    assert run_table_gate(rt, REF, actor=_actor(rt)).result.success
    promote(rt, version)
    return version


def gate_records(rt: Runtime) -> list[tuple[int, str]]:
    return [(v.version, v.gate_status) for v in rt.catalog.list_versions(REF.canonical)]


def audit_count(rt: Runtime) -> int:
    return len(rt.catalog.list_audit(limit=10_000))


# --- the row floor against the ACTIVE version ----------------------------------------------


def test_a_version_with_too_few_rows_against_the_active_one_fails(rt: Runtime) -> None:
    v1 = active_with(rt, 1000)
    v2 = build(rt, 400)

    outcome = run_table_gate(rt, REF, actor=_actor(rt))

    assert outcome.version == v2 and not outcome.result.success
    assert outcome.row_floor.to_dict() == {
        "active_version": v1,
        "active_row_count": 1000,
        "max_row_drop": 0.5,
        "minimum": 500,
    }
    message = outcome.result.message or ""
    assert f"{ROW_COUNT} failed, observed 400, expected at least 500" in message
    assert "at most 50% fewer rows than ACTIVE v1 (1,000 rows)" in message
    assert "raise max_row_drop for silver.orders" in message
    recorded = rt.catalog.get_version(REF.canonical, v2)
    assert recorded.gate_status == "failed"
    assert recorded.gate_details is not None
    assert recorded.gate_details["row_floor"]["minimum"] == 500
    assert recorded.gate_details["message"] == message
    with pytest.raises(SpyneError) as refused:
        rt.service().promote(Actor(rt.catalog.list_principals()[0]), REF.canonical, v2)
    assert refused.value.code == "gate_failed"
    assert rt.catalog.get_table(REF.canonical).active_version == v1


def test_a_version_within_the_allowed_drop_passes(rt: Runtime) -> None:
    active_with(rt, 1000)
    v2 = build(rt, 600)

    outcome = run_table_gate(rt, REF, actor=_actor(rt))

    assert outcome.result.success, outcome.result.message
    floor = [o for o in outcome.result.results if o.expected == {"min_value": 500}]
    assert [(o.expectation_type, o.observed_value) for o in floor] == [(ROW_COUNT, 600)]
    assert rt.catalog.get_version(REF.canonical, v2).gate_status == "passed"


def test_exactly_the_allowed_drop_passes_and_one_row_less_fails(rt: Runtime) -> None:
    active_with(rt, 1000)
    build(rt, 500)
    assert run_table_gate(rt, REF, actor=_actor(rt)).result.success
    build(rt, 499)
    assert not run_table_gate(rt, REF, actor=_actor(rt)).result.success


def test_a_first_version_is_not_limited(rt: Runtime) -> None:
    build(rt, 3)

    outcome = run_table_gate(rt, REF, actor=_actor(rt))

    assert outcome.result.success, outcome.result.message
    assert outcome.row_floor.active_version is None and outcome.row_floor.minimum == 0


def test_the_allowed_drop_is_policy_per_table(spyne_home: Path, rt: Runtime) -> None:
    policies = spyne_home / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    (policies / "publishing.yaml").write_text(
        "tables:\n  silver.orders:\n    max_row_drop: 0.7\n", encoding="utf-8"
    )
    from orchestration.runtime import build_runtime

    relaxed = build_runtime()
    try:
        active_with(relaxed, 1000)
        build(relaxed, 400)
        outcome = run_table_gate(relaxed, REF, actor=_actor(relaxed))
        assert outcome.result.success, outcome.result.message
        assert (outcome.row_floor.max_row_drop, outcome.row_floor.minimum) == (0.7, 300)
    finally:
        relaxed.catalog.dispose()


# --- dbt tests ---------------------------------------------------------------------------------


def test_a_failed_dbt_test_fails_a_gate_whose_expectations_passed(rt: Runtime) -> None:
    version = build(rt, 10)
    tests = [
        {"name": "not_null_orders_id", "status": "pass", "message": None},
        {"name": "relationships_orders_customer_id", "status": "fail", "message": "Got 4 results"},
        {"name": "unique_orders_id", "status": "error", "message": "Runtime Error in test"},
        {"name": "accepted_values_orders_status", "status": "warn", "message": "Got 1 result"},
    ]

    outcome = run_table_gate(rt, REF, actor=_actor(rt), dbt_tests=tests)

    assert not outcome.result.success
    assert outcome.result.failed == 0 and outcome.result.evaluated == 7  # GE was all green
    message = outcome.result.message or ""
    assert "relationships_orders_customer_id (fail: Got 4 results)" in message
    assert "unique_orders_id (error: Runtime Error in test)" in message
    assert "accepted_values_orders_status" not in message
    recorded = rt.catalog.get_version(REF.canonical, version)
    assert recorded.gate_status == "failed"
    details = recorded.gate_details or {}
    assert details["dbt_failures"] == ["relationships_orders_customer_id", "unique_orders_id"]
    assert [t["status"] for t in details["dbt_tests"]] == ["pass", "fail", "error", "warn"]


def test_passing_and_warning_dbt_tests_do_not_block(rt: Runtime) -> None:
    build(rt, 10)
    tests: list[dict[str, Any]] = [
        {"name": "not_null_orders_id", "status": "pass", "message": None},
        {"name": "accepted_values_orders_status", "status": "warn", "message": "Got 1 result"},
        {"name": "relationships_orders_customer_id", "status": "skipped", "message": None},
    ]
    outcome = run_table_gate(rt, REF, actor=_actor(rt), dbt_tests=tests)
    assert outcome.result.success, outcome.result.message
    assert outcome.result.to_dict()["dbt_failures"] == []


def test_a_malformed_dbt_test_result_is_refused_and_records_nothing(rt: Runtime) -> None:
    version = build(rt, 10)
    before = audit_count(rt)
    with pytest.raises(ValidationFailed, match="status"):
        run_table_gate(
            rt, REF, actor=_actor(rt), dbt_tests=[{"name": "t", "status": "ok", "message": None}]
        )
    assert rt.catalog.get_version(REF.canonical, version).gate_status == "not_run"
    assert audit_count(rt) == before


# --- never a gate against data that is not there ----------------------------------------------


def test_a_deleted_warehouse_is_refused_and_the_passed_verdict_stands(rt: Runtime) -> None:
    v1 = active_with(rt, 20)
    before = (gate_records(rt), audit_count(rt))
    rt.warehouse.path.unlink()

    with pytest.raises(NotFound) as refused:
        run_table_gate(rt, REF, actor=_actor(rt))

    assert str(rt.warehouse.path) in refused.value.message
    assert "nothing was recorded" in refused.value.message
    assert refused.value.details["version"] == v1
    assert (gate_records(rt), audit_count(rt)) == before
    assert gate_records(rt) == [(v1, "passed")]
    assert not rt.warehouse.path.exists(), "the gate must not create an empty warehouse"


def test_a_missing_version_table_is_refused_and_records_nothing(rt: Runtime) -> None:
    v1 = active_with(rt, 20)
    v2 = build(rt, 20)
    rt.warehouse.drop_version(REF, v2)
    before = (gate_records(rt), audit_count(rt))

    with pytest.raises(NotFound) as refused:
        run_table_gate(rt, REF, v2, actor=_actor(rt))

    assert "silver__shadow.orders__v2" in refused.value.message
    assert refused.value.details["physical_table"] == "silver__shadow.orders__v2"
    assert (gate_records(rt), audit_count(rt)) == before
    assert gate_records(rt) == [(v1, "passed"), (v2, "not_run")]


def test_cli_gates_run_on_a_deleted_warehouse_exits_non_zero(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    active_with(rt, 20)
    _, key = rt.catalog.create_principal("eng", Role.ENGINEER, created_by="test")
    monkeypatch.setenv("SPYNE_API_KEY", key)
    ok = CliRunner().invoke(app, ["gates", "run", REF.canonical, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["success"] is True
    rt.warehouse.path.unlink()

    refused = CliRunner().invoke(app, ["gates", "run", REF.canonical])

    assert refused.exit_code == 1
    assert "not_found" in refused.output and "failed (0 expectations" not in refused.output
    assert gate_records(rt) == [(1, "passed")]


def test_the_row_floor_parameter_is_in_every_committed_suite() -> None:
    """`spyne gates generate` put the floor into expectations/; a hand edit may not drop it."""
    root = Path(__file__).resolve().parents[2] / "expectations"
    files = sorted(root.glob("*/*.json"))
    assert files
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        floors = [
            e
            for e in document["expectations"]
            if e["type"] == ROW_COUNT
            and e["kwargs"].get("min_value") == {"$PARAMETER": MIN_ROWS_PARAMETER}
        ]
        assert len(floors) == 1, path.name
