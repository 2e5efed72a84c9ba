"""The query trust layer on BigQuery (the fake client): validate, preview with the dry run's
bytes as the cost, the per-query cap as an approval, approve, execute on a capped, labelled job,
the scanned bytes recorded against the organisation's hourly budget."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pytest

from orchestration.identity import Actor
from orchestration.query.service import QueryService
from orchestration.runtime import Runtime, build_runtime
from policies.errors import ApprovalRequired, CostLimitExceeded, NotFound
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from policies.sql_safety import SafetyPolicy, check_sql
from tests.bigquery_fake import FakeBigQueryClient
from tests.conftest import SPYNE_VARS
from tests.warehouse_support import MAX_BYTES, PROJECT, adapter

ORDERS = TableRef(Layer.GOLD, "orders")
PARTNERS = TableRef(Layer.SILVER, "partners")
REPORT = (
    "SELECT p.name, SUM(o.amount) AS total FROM gold.orders AS o "
    "JOIN silver.partners AS p ON o.partner_id = p.id GROUP BY p.name ORDER BY p.name"
)


@dataclass
class World:
    rt: Runtime
    fake: FakeBigQueryClient
    admin: Actor
    engineer: Actor
    analyst: Actor


def _publish(rt: Runtime, admin: Actor, ref: TableRef, rows: pa.Table) -> None:
    svc = rt.service()
    version = svc.allocate_version(admin, ref)
    rt.warehouse.create_version_from_rows(ref, version, rows)
    svc.register_build(admin, ref, version, None)
    rt.catalog.record_gate(ref.canonical, version, "passed", {}, actor=admin.name)
    svc.promote(admin, ref.canonical, version)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("bq_home")
    with pytest.MonkeyPatch.context() as mp:
        for var in SPYNE_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("SPYNE_ENV", "local")
        mp.setenv("SPYNE_HOME", str(home))
        mp.setenv("SPYNE_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
        from orchestration.install import init

        init()
        rt = build_runtime()
        used = adapter("bigquery", home, rt.catalog.engine)
        assert used.fake is not None
        rt.warehouse = used.warehouse  # type: ignore[misc]  # prod's warehouse, on the fake
        catalog = rt.catalog
        admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
        eng, _ = catalog.create_principal("eve", Role.ENGINEER, created_by="ada")
        analyst, _ = catalog.create_principal("ana", Role.ANALYST, created_by="ada")
        catalog.set_mode(SystemMode.INGESTION_READY, "ada")
        w = World(rt, used.fake, Actor(admin), Actor(eng), Actor(analyst))
        orders = pa.table(
            {
                "id": list(range(40)),
                "partner_id": [i % 5 for i in range(40)],
                "amount": [float(i) for i in range(40)],
            }
        )
        partners = pa.table(
            {
                "id": list(range(5)),
                "name": [f"p{i}" for i in range(5)],
                "email": [f"partner{i}@example.com" for i in range(5)],
            }
        )
        _publish(rt, w.admin, ORDERS, orders)
        _publish(rt, w.admin, PARTNERS, partners)
        yield w
        catalog.dispose()


def test_validate_speaks_bigquery() -> None:
    ok = check_sql(REPORT, "bigquery")
    assert ok.decision == "allow" and not ok.errors
    blocked = check_sql("SELECT * FROM EXTERNAL_QUERY('c', 'SELECT 1')", "bigquery")
    assert blocked.blocked and "denied_function" in blocked.rules


def test_preview_costs_the_dry_run_and_execute_runs_a_capped_labelled_job(world: World) -> None:
    q = QueryService(world.rt, SafetyPolicy())
    before = len(world.fake.queries())
    preview = q.preview(world.analyst, REPORT)
    data = preview.data
    assert data["decision"] == "allow"
    assert f"`{PROJECT}`.`gold__shadow`.`orders__v1`" in data["final_sql"]
    dry = [r for r in world.fake.queries()[before:] if r.labels.get("action") == "estimate"]
    assert dry and all(r.dry_run for r in dry), "the cost is the dry run's, nothing ran"
    assert data["estimated_bytes"] and data["estimated_bytes"] > 0
    assert data["estimated_rows"] is None  # a dry run does not say how many rows come back
    result = q.execute(world.analyst, preview.info.id)
    assert result.columns == ("name", "total")
    assert result.rows == [(f"p{k}", float(sum(range(k, 40, 5)))) for k in range(5)]
    runs = [r for r in world.fake.queries(dry_run=False) if r.labels.get("action") == "query"]
    assert runs and runs[-1].maximum_bytes_billed == MAX_BYTES
    used = world.rt.catalog.query_previews.usage_since("default", preview.info.created_at)
    assert result.bytes_scanned and [b for _, b in used] == [result.bytes_scanned]


def test_over_the_cap_waits_for_an_approval_then_runs(world: World) -> None:
    q = QueryService(world.rt, SafetyPolicy(max_query_bytes=10))
    preview = q.preview(world.analyst, REPORT)
    assert preview.data["approval_rules"] == ["query_cost"]
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, preview.info.id)
    q.approve(world.engineer, preview.info.id, "the whole report is needed")
    assert len(q.execute(world.analyst, preview.info.id).rows) == 5


def test_the_hourly_budget_counts_what_bigquery_scanned(world: World) -> None:
    q = QueryService(world.rt, SafetyPolicy(hourly_budget_bytes=1))
    preview = q.preview(world.analyst, "SELECT SUM(amount) AS total FROM gold.orders")
    with pytest.raises(CostLimitExceeded) as refused:
        q.execute(world.analyst, preview.info.id)
    assert refused.value.details["rule"] == "budget"


def test_personal_data_is_redacted_in_bigquery_results(world: World) -> None:
    q = QueryService(world.rt, SafetyPolicy())
    preview = q.preview(world.analyst, "SELECT name, email FROM silver.partners ORDER BY name")
    assert preview.data["redacted_columns"] == {"email": "email"}
    result = q.execute(world.analyst, preview.info.id)
    assert result.rows == [(f"p{i}", "[REDACTED:email]") for i in range(5)]


def test_unknown_names_are_refused_before_anything_runs(world: World) -> None:
    q = QueryService(world.rt, SafetyPolicy())
    before = len(world.fake.queries())
    with pytest.raises(NotFound) as refused:
        q.preview(world.analyst, "SELECT nmae FROM silver.partners")
    assert "did you mean name" in refused.value.message
    with pytest.raises(NotFound):
        q.preview(world.analyst, "SELECT 1 FROM silver.partner")
    assert len(world.fake.queries()) == before, "no job, not even a dry run"
