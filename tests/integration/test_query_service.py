"""Preview and execute on a real install (DuckDB file, SQLite catalog): resolution by state and
role, the binding of a preview id (caller, expiry, promotion), approvals, the hourly budget,
and the audit of every decision."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from orchestration.catalog.query_previews import QueryPreviewRow
from orchestration.identity import Actor
from orchestration.query.service import QueryService
from orchestration.runtime import Runtime, build_runtime
from policies.errors import (
    ApprovalRequired,
    CostLimitExceeded,
    NotFound,
    PermissionDenied,
    PreviewInvalid,
    QueryBlocked,
    ValidationFailed,
)
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from policies.sql_safety import SafetyPolicy

ORDERS = TableRef(Layer.GOLD, "orders")
PARTNERS = TableRef(Layer.SILVER, "partners")
DRAFTS = TableRef(Layer.GOLD, "drafts")
OLD = TableRef(Layer.GOLD, "old_kpis")


@dataclass
class World:
    rt: Runtime
    admin: Actor
    engineer: Actor
    analyst: Actor
    viewer: Actor
    keys: dict[str, str]

    def service(self, **policy: object) -> QueryService:
        return QueryService(self.rt, SafetyPolicy.model_validate(policy))


def _build(rt: Runtime, runner: Actor, ref: TableRef, table: pa.Table) -> int:
    svc = rt.service()
    version = svc.allocate_version(runner, ref)
    rt.warehouse.create_version_from_rows(ref, version, table)
    svc.register_build(runner, ref, version, None)
    rt.catalog.record_gate(ref.canonical, version, "passed", {}, actor=runner.name)
    return version


def _orders(n: int, shift: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": list(range(n)),
            "partner_id": [i % 5 for i in range(n)],
            "amount": [float(i + shift) for i in range(n)],
            "order_date": pa.array(
                [datetime(2026, 1, 1 + i % 28).date() for i in range(n)], pa.date32()
            ),
        }
    )


@pytest.fixture
def world(installed_home: Path) -> Iterator[World]:
    rt = build_runtime()
    catalog = rt.catalog
    admin, _ = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    eng, eng_key = catalog.create_principal("eve", Role.ENGINEER, created_by="ada")
    analyst, analyst_key = catalog.create_principal("ana", Role.ANALYST, created_by="ada")
    viewer, _ = catalog.create_principal("vic", Role.VIEWER, created_by="ada")
    catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    keys = {"engineer": eng_key, "analyst": analyst_key}
    w = World(rt, Actor(admin), Actor(eng), Actor(analyst), Actor(viewer), keys)
    svc = rt.service()
    for ref, rows in ((ORDERS, _orders(40)), (OLD, _orders(3))):
        svc.promote(w.admin, ref.canonical, _build(rt, w.engineer, ref, rows))
    partners = pa.table({"id": list(range(5)), "name": [f"p{i}" for i in range(5)]})
    svc.promote(w.admin, PARTNERS.canonical, _build(rt, w.engineer, PARTNERS, partners))
    _build(rt, w.engineer, DRAFTS, _orders(2))  # SHADOW: never promoted
    svc.deprecate(w.admin, OLD.canonical, "replaced")
    yield w
    catalog.dispose()


def _gate_audit(w: World) -> list[dict[str, object]]:
    return [
        {"outcome": e.outcome.value, **e.details}
        for e in w.rt.catalog.list_audit(limit=200, action="security_gate_decision")
    ]


def test_preview_then_execute_runs_exactly_what_was_previewed(world: World) -> None:
    q = world.service()
    preview = q.preview(
        world.analyst,
        "SELECT p.name, sum(o.amount) AS total FROM gold.orders o "
        "JOIN silver.partners p ON o.partner_id = p.id WHERE o.amount > 10 GROUP BY p.name "
        "ORDER BY p.name",
    )
    data = preview.data
    assert data["decision"] == "allow"
    assert {t["table"]: (t["state"], t["version"], t["rows"]) for t in data["tables"]} == {
        "gold.orders": ("ACTIVE", 1, 40),
        "silver.partners": ("ACTIVE", 1, 5),
    }
    assert '"gold__shadow"."orders__v1" AS o' in data["final_sql"]
    assert data["joins"][0]["warning"].endswith(
        "not an accepted join; its keys and fan-out were not reviewed"
    )
    assert data["filters"] == ["o.amount > 10"]
    assert data["aggregations"] == ["SUM(o.amount)"]
    assert data["explanation"].startswith("It reads gold.orders (ACTIVE v1, 40 rows)")
    assert data["estimated_rows"] is not None and data["estimated_bytes"] > 0
    result = q.execute(world.analyst, preview.info.id)
    assert result.columns == ("name", "total")
    assert len(result.rows) == 5
    audit = _gate_audit(world)
    assert [a["decision"] for a in audit[:2]] == ["executed", "allow"]
    assert all("rows" not in a and "name" not in str(a.get("rules")) for a in audit)
    with pytest.raises(PreviewInvalid) as used:
        q.execute(world.analyst, preview.info.id)
    assert used.value.details["rule"] == "preview_used"


def test_default_limit_and_pins(world: World) -> None:
    q = world.service(default_limit=7)
    preview = q.preview(world.viewer, "SELECT id FROM gold.orders")
    assert preview.data["decision"] == "rewrite" and preview.data["sql"].endswith("LIMIT 7")
    assert len(q.execute(world.viewer, preview.info.id).rows) == 7
    pinned = q.preview(world.viewer, "SELECT count(*) AS n FROM gold.old_kpis@v1 WHERE id >= 0")
    assert pinned.data["tables"][0] == {
        "table": "gold.old_kpis", "state": "DEPRECATED", "version": 1, "rows": 3,
        "row_version": pinned.data["tables"][0]["row_version"],
    }  # fmt: skip
    assert q.execute(world.viewer, pinned.info.id).rows == [(3,)]
    # the same characters in a string are data, never a pin
    with pytest.raises(QueryBlocked) as exc:
        q.preview(world.viewer, "SELECT 'gold.old_kpis@v1' AS s FROM gold.old_kpis")
    assert exc.value.details["rule"] == "deprecated_table"


def test_resolution_by_state_and_role(world: World) -> None:
    q = world.service()
    with pytest.raises(QueryBlocked) as shadow:
        q.preview(world.admin, "SELECT count(*) FROM gold.drafts")
    assert shadow.value.details["rule"] == "shadow_table"
    assert "gold__shadow.drafts__v1" in shadow.value.message
    ok = q.preview(world.engineer, "SELECT count(*) AS n FROM gold__shadow.drafts__v1")
    assert q.execute(world.engineer, ok.info.id).rows == [(2,)]
    with pytest.raises(PermissionDenied):
        q.preview(world.analyst, "SELECT count(*) FROM gold__shadow.drafts__v1")
    with pytest.raises(NotFound) as unknown:
        q.preview(world.viewer, "SELECT count(*) FROM gold.order")
    assert unknown.value.details["suggestions"] == ["gold.orders"]
    with pytest.raises(NotFound) as column:
        q.preview(world.viewer, "SELECT sum(amount_eur) FROM gold.orders")
    assert column.value.details["rule"] == "unknown_column"
    assert column.value.details["suggestions"] == ["amount"]
    with pytest.raises(NotFound) as qualified:  # sqlglot words this one differently
        q.preview(world.viewer, "SELECT o.amount_eur, count(*) FROM gold.orders o GROUP BY 1")
    assert qualified.value.details["column"] == "amount_eur"
    assert "did you mean amount?" in qualified.value.message
    with pytest.raises(QueryBlocked):
        q.preview(world.viewer, "SELECT * FROM read_csv('/etc/passwd')")
    refused = [a for a in _gate_audit(world) if a["outcome"] == "refused"]
    assert {"shadow_table", "roles", "unknown_table", "unknown_column", "denied_function"} <= {
        r
        for a in refused
        for r in a["rules"]  # type: ignore[attr-defined]
    }


def test_a_promotion_voids_the_preview(world: World) -> None:
    q = world.service()
    preview = q.preview(world.analyst, "SELECT count(*) FROM gold.orders")
    v2 = _build(world.rt, world.engineer, ORDERS, _orders(41, shift=1))
    world.rt.service().promote(world.admin, ORDERS.canonical, v2)
    with pytest.raises(PreviewInvalid) as exc:
        q.execute(world.analyst, preview.info.id)
    assert exc.value.details["rule"] == "preview_stale" and "gold.orders" in exc.value.message


def test_only_the_caller_and_only_before_expiry(world: World) -> None:
    q = world.service()
    preview = q.preview(world.analyst, "SELECT count(*) FROM gold.orders")
    with pytest.raises(PreviewInvalid) as other:
        q.execute(world.viewer, preview.info.id)
    assert other.value.details["rule"] == "preview_caller"
    with world.rt.catalog.engine.begin() as conn:
        conn.execute(
            sa.update(QueryPreviewRow)
            .where(QueryPreviewRow.id == preview.info.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(PreviewInvalid) as expired:
        q.execute(world.analyst, preview.info.id)
    assert expired.value.details["rule"] == "preview_expired"


def test_approvals_and_skipping_the_preview(world: World) -> None:
    q = world.service(max_join_depth=0)
    preview = q.preview(
        world.analyst,
        "SELECT count(*) FROM gold.orders o JOIN silver.partners p ON o.partner_id = p.id",
    )
    assert preview.data["decision"] == "require_approval"
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, preview.info.id)
    with pytest.raises(ValidationFailed):  # an approval is never one's own override
        q.execute(world.analyst, preview.info.id, overrides=("join_depth",))
    with pytest.raises(PermissionDenied):
        q.approve(world.analyst, preview.info.id, "I say so")
    q.approve(world.engineer, preview.info.id, "checked the keys")
    assert q.execute(world.analyst, preview.info.id).rows == [(40,)]
    with pytest.raises(PermissionDenied):
        q.run_without_preview(world.analyst, "SELECT count(*) FROM gold.orders", "hurry")
    result = q.run_without_preview(
        world.engineer, "SELECT count(*) FROM gold.orders", "incident 42"
    )
    assert result.rows == [(40,)]
    skipped = [a for a in _gate_audit(world) if a["decision"] == "skip_preview"]
    assert skipped and skipped[0]["reason"] == "incident 42"


def test_a_table_marked_partitioned_needs_a_filter_on_its_partition_column(world: World) -> None:
    """Marked in the query policy, gold.orders (40 rows) needs a time filter however small it is,
    under any name it is read by, and waits for approval without one."""
    q = world.service(partitioned_tables={"gold.orders": ["order_date"]})
    unfiltered = q.preview(world.analyst, "SELECT sum(amount) FROM gold.orders WHERE amount > 1")
    assert unfiltered.data["approval_rules"] == ["time_filter"]
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, unfiltered.info.id)
    by_version = q.preview(world.engineer, "SELECT count(*) FROM gold__shadow.orders__v1")
    assert "time_filter" in by_version.data["approval_rules"]
    filtered = q.preview(
        world.analyst, "SELECT sum(amount) FROM orders WHERE order_date >= DATE '2026-01-15'"
    )
    assert filtered.data["decision"] == "allow"
    assert q.execute(world.analyst, filtered.info.id).rows == [
        (float(sum(i for i in range(40) if i % 28 >= 14)),)
    ]
    assert (
        world.service()
        .preview(world.analyst, "SELECT sum(amount) FROM gold.orders")
        .data["decision"]
        == "allow"
    ), "unmarked, 40 rows need no filter"
    # Over the large-table threshold (catalog statistics: 40 rows here), its DATE column will do.
    large = world.service(large_table_rows=30)
    assert large.preview(world.analyst, "SELECT sum(amount) FROM gold.orders").data[
        "approval_rules"
    ] == ["time_filter"]
    recent = "SELECT sum(amount) FROM gold.orders WHERE order_date > DATE '2026-01-20'"
    assert large.preview(world.analyst, recent).data["decision"] == "allow"
    # A READ_ONLY source has no version and no statistics: its mark alone asks for the filter.
    world.rt.catalog.ensure_table(TableRef(Layer.SILVER, "events"), TableState.READ_ONLY)
    with world.rt.warehouse.connect() as con:  # type: ignore[attr-defined]
        con.execute(
            "create table silver.events as select range as id, current_date as day from range(3)"
        )
    marked = world.service(partitioned_tables={"silver.events": ["day"]})
    source = marked.preview(world.analyst, "SELECT count(*) FROM silver.events")
    assert source.data["approval_rules"] == ["time_filter"]
    dated = marked.preview(
        world.analyst, "SELECT count(*) FROM silver.events WHERE day > DATE '2026-01-01'"
    )
    assert dated.data["decision"] == "allow"


def test_cost_cap_and_hourly_budget(world: World) -> None:
    q = world.service(max_query_bytes=100, hourly_budget_bytes=5_000)
    big = q.preview(world.analyst, "SELECT sum(amount) FROM gold.orders")  # 40 rows x 1 col x 8 B
    assert big.data["estimated_bytes"] == 320 and "query_cost" in big.data["approval_rules"]
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, big.info.id)
    roomy = world.service(hourly_budget_bytes=700)
    first = roomy.preview(world.analyst, "SELECT sum(amount) FROM gold.orders")
    roomy.execute(world.analyst, first.info.id)  # 320 of 700 used
    second = roomy.preview(world.analyst, "SELECT sum(amount) FROM gold.orders")
    roomy.execute(world.analyst, second.info.id)  # 640 of 700 used
    third = roomy.preview(world.analyst, "SELECT sum(amount) FROM gold.orders")
    with pytest.raises(CostLimitExceeded) as exc:
        roomy.execute(world.analyst, third.info.id)
    assert exc.value.details["remaining_bytes"] == 60 and "narrow it" in exc.value.message


def test_the_command_line(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io
    import json

    from typer.testing import CliRunner

    from orchestration.cli import app

    runner = CliRunner()
    monkeypatch.setenv("SPYNE_API_KEY", world.keys["analyst"])
    shown = runner.invoke(
        app, ["query", "preview", "SELECT id, amount FROM gold.orders ORDER BY id"]
    )
    assert shown.exit_code == 0, shown.output
    assert "explanation It reads gold.orders" in shown.stdout and "LIMIT 10000" in shown.stdout
    result = runner.invoke(
        app,
        ["query", "preview", "SELECT id, amount FROM gold.orders ORDER BY id LIMIT 3", "--json"],
    )
    preview_id = json.loads(result.stdout)["preview_id"]
    ran = runner.invoke(app, ["query", "execute", preview_id, "--format", "csv"])
    assert ran.exit_code == 0, ran.output
    assert list(csv.reader(io.StringIO(ran.stdout))) == [
        ["id", "amount"], ["0", "0.0"], ["1", "1.0"], ["2", "2.0"]
    ]  # fmt: skip
    again = runner.invoke(app, ["query", "execute", preview_id])
    assert again.exit_code == 1 and "preview_invalid" in again.output
    skipped = runner.invoke(
        app,
        [
            "query",
            "execute",
            "--skip-preview",
            "--sql",
            "SELECT 1 AS x FROM gold.orders LIMIT 1",
            "--reason",
            "x",
        ],
    )
    assert skipped.exit_code == 1 and "permission_denied" in skipped.output
    monkeypatch.setenv("SPYNE_API_KEY", world.keys["engineer"])
    skipped = runner.invoke(
        app,
        ["query", "execute", "--skip-preview", "--sql", "SELECT 1 AS x FROM gold.orders LIMIT 1",
         "--reason", "incident", "--format", "json"],
    )  # fmt: skip
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout) == [{"x": 1}]


def test_corrections_make_a_new_preview(world: World) -> None:
    from policies.query_correct import Correction

    q = world.service()
    first = q.preview(
        world.analyst,
        "SELECT p.name, sum(o.amount) AS total FROM gold.orders o JOIN silver.partners p "
        "ON o.partner_id = p.id WHERE o.amount > 10 GROUP BY p.name",
    )
    second = q.correct(
        world.analyst,
        first.info.id,
        [
            Correction("set_join_type", "p=left"),
            Correction("remove_filter", "o.amount > 10"),
            Correction("add_filter", "o.order_date >= DATE '2026-01-10'"),
            Correction("swap_metric", "sum(o.amount)=max(o.amount)"),
        ],
    )
    assert second.info.id != first.info.id
    assert second.data["joins"][0]["kind"] == "left"
    assert second.data["filters"] == ["o.order_date >= CAST('2026-01-10' AS DATE)"]
    assert second.data["aggregations"] == ["MAX(o.amount)"]
    assert len(q.execute(world.analyst, second.info.id).rows) == 5
    with pytest.raises(PreviewInvalid):
        q.correct(world.viewer, first.info.id, [Correction("add_filter", "o.id = 1")])
    with pytest.raises(ValidationFailed):
        q.correct(world.analyst, first.info.id, [Correction("remove_filter", "o.id = 99")])
    pinned = q.preview(world.viewer, "SELECT count(*) AS n FROM gold.old_kpis@v1")
    corrected = q.correct(world.viewer, pinned.info.id, [Correction("add_filter", "id >= 1")])
    assert q.execute(world.viewer, corrected.info.id).rows == [(2,)]  # still the pinned version


def test_an_explosive_join_needs_an_explicit_override(world: World) -> None:
    q = world.service(max_join_fanout=2.0)
    preview = q.preview(
        world.analyst,
        "SELECT count(*) FROM gold.orders a JOIN gold.orders b ON a.partner_id = b.partner_id",
    )
    assert "explosive_join" in preview.data["approval_rules"]
    assert any(w.startswith("explosive join") for w in preview.data["warnings"])
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, preview.info.id)
    assert q.execute(world.analyst, preview.info.id, overrides=("explosive_join",)).rows == [(320,)]


def test_a_join_an_admin_accepted_is_shown_with_its_review(world: World) -> None:
    from orchestration.catalog.joins import CandidateInfo

    joins = world.rt.catalog.joins
    (candidate,) = joins.record(
        [
            CandidateInfo(
                id="cand_orders_partners",
                child_table=ORDERS.canonical,
                child_version=1,
                child_columns=("partner_id",),
                parent_table=PARTNERS.canonical,
                parent_version=1,
                parent_columns=("id",),
                confidence=0.95,
                risk_level="HIGH",
                reason="test",
                stats={},
                flags=(),
            )
        ],
        "eve",
    )
    pending = joins.begin_accept(candidate, "jn_partners_orders", "left", "why", "ada", {})
    joins.finish_accept(pending, "ada")
    sql = "SELECT p.name, o.amount FROM gold.orders o JOIN silver.partners p ON {on} LIMIT 5"
    q = world.service()
    (reviewed,) = q.preview(world.analyst, sql.format(on="o.partner_id = p.id")).data["joins"]
    assert reviewed["accepted_join"] == {
        "id": pending.id,
        "model": "jn_partners_orders",
        "version": 1,
        "accepted_by": "ada",
    }
    assert "warning" not in reviewed
    (other,) = q.preview(world.analyst, sql.format(on="o.id = p.id")).data["joins"]
    assert other["accepted_join"] is None
    assert other["warning"].endswith("not an accepted join; its keys and fan-out were not reviewed")


def test_an_aggregate_over_rows_a_join_repeats_asks_for_clarification(world: World) -> None:
    """Discovery's stored profiles say partners.id is unique and orders.partner_id repeats: a
    partner's values counted across its orders are counted once per order."""
    from orchestration.joins.review import discover_on_platform

    discover_on_platform(world.rt.catalog, world.rt.warehouse, world.admin, min_confidence=0.5)
    q = world.service()
    join = "FROM gold.orders o JOIN silver.partners p ON o.partner_id = p.id"
    per_partner = q.preview(
        world.analyst, f"SELECT p.name, SUM(o.amount) AS total {join} GROUP BY p.name"
    )
    assert "mixed_grain" not in per_partner.data["rules"]
    mixed = q.preview(
        world.analyst, f"SELECT COUNT(p.name) AS named, SUM(o.amount) AS total {join}"
    )
    assert mixed.data["approval_rules"] == ["mixed_grain"]
    (warning,) = [w for w in mixed.data["warnings"] if w.startswith("COUNT(p.name)")]
    assert "partner_id is not unique there" in warning
    with pytest.raises(ApprovalRequired):
        q.execute(world.analyst, mixed.info.id)
    rows = q.execute(world.analyst, mixed.info.id, overrides=("mixed_grain",)).rows
    assert rows == [(40, float(sum(range(40))))]
