"""`spyne joins`: discovery on the platform's ACTIVE tables and on any DuckDB file, precision and
recall on generated schemas with known keys and decoys, and the review steps with their roles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from bench.join_schemas import generate
from orchestration.cli import app
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

runner = CliRunner()
CUSTOMERS = TableRef(Layer.SILVER, "customers")
ORDERS = TableRef(Layer.SILVER, "orders")
KEYS: dict[str, str] = {}


def _publish(ref: TableRef, sql: str) -> int:
    from orchestration.identity import current_actor
    from orchestration.runtime import runtime

    rt = runtime()
    svc = rt.service()
    builder = current_actor(rt.catalog, KEYS["root"])
    version = svc.allocate_version(builder, ref)
    rt.warehouse.create_version(ref, version, sql)
    svc.register_build(builder, ref, version, None)
    rt.catalog.record_gate(ref.canonical, version, "passed", {"test": True}, actor=builder.name)
    svc.promote(builder, ref.canonical, version)
    return version


@pytest.fixture
def platform(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from orchestration.runtime import runtime

    catalog = runtime().catalog
    KEYS.clear()
    for name, role in (
        ("root", Role.ADMIN),
        ("eng", Role.ENGINEER),
        ("ana", Role.ANALYST),
    ):
        _, KEYS[name] = catalog.create_principal(name, role, created_by="test")
    catalog.set_mode(SystemMode.INGESTION_READY, "root")
    monkeypatch.setenv("SPYNE_API_KEY", KEYS["root"])
    _publish(CUSTOMERS, "select range + 1 as id, 'c' || range as name from range(50)")
    _publish(
        ORDERS,
        "select range + 1 as id, (range % 40) + 1 as customer_id, (range % 3) + 1 as priority "
        "from range(400)",
    )
    return KEYS


def _invoke(args: list[str], key: str | None = None) -> Any:
    env = {"SPYNE_API_KEY": key} if key else None
    return runner.invoke(app, args, env=env)


def _json(args: list[str], key: str | None = None) -> Any:
    result = _invoke(args, key)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


REQUIRED = {
    "id", "child_table", "child_columns", "parent_table", "parent_columns", "confidence",
    "risk_level", "reason", "cardinality", "null_pct", "fan_out", "orphan_pct",
}  # fmt: skip


def test_discovery_on_the_platform_is_stored_tied_to_versions_and_reuses_profiles(
    platform: dict[str, str],
) -> None:
    from orchestration.runtime import runtime

    found = _json(["joins", "discover", "--json"], platform["ana"])
    (candidate,) = found
    assert set(candidate) >= REQUIRED
    assert (candidate["child_table"], candidate["child_columns"]) == (
        "silver.orders",
        ["customer_id"],
    )
    assert (candidate["parent_table"], candidate["parent_columns"]) == ("silver.customers", ["id"])
    assert candidate["risk_level"] == "HIGH" and candidate["cardinality"] == "one_to_many"
    assert candidate["fan_out"] == {"avg": 10.0, "max": 10} and candidate["orphan_pct"] == 0.0
    assert (candidate["child_version"], candidate["parent_version"]) == (1, 1)
    catalog = runtime().catalog
    stored = catalog.joins.profiles("duckdb", [("silver.orders", 1), ("silver.customers", 1)])
    assert len(stored) == 2
    again = _invoke(["joins", "discover"], platform["ana"])
    assert again.exit_code == 0 and "2 profiles reused" in again.output, again.output
    assert catalog.joins.get(candidate["id"]).status == "open"


def test_review_roles_and_a_rejected_candidate_is_not_proposed_again(
    platform: dict[str, str],
) -> None:
    (candidate,) = _json(["joins", "discover", "--json"], platform["root"])
    cid = candidate["id"]
    refused = _invoke(["joins", "propose", cid], platform["ana"])
    assert refused.exit_code == 1 and "[permission_denied]" in refused.output
    assert (
        _invoke(
            ["joins", "propose", cid, "--note", "orders belong to customers"], platform["eng"]
        ).exit_code
        == 0
    )
    pending = _json(["joins", "list", "--pending", "--json"], platform["root"])
    assert [c["id"] for c in pending["candidates"]] == [cid]
    refused = _invoke(["joins", "reject", cid, "--reason", "no"], platform["eng"])
    assert refused.exit_code == 1 and "[permission_denied]" in refused.output
    assert (
        _invoke(
            ["joins", "reject", cid, "--reason", "orders are keyed by account"], platform["root"]
        ).exit_code
        == 0
    )
    shown = _json(["joins", "show", cid, "--json"], platform["ana"])
    assert (shown["status"], shown["decided_by"]) == ("rejected", "root")
    assert shown["decision_note"] == "orders are keyed by account"
    assert _json(["joins", "discover", "--json"], platform["root"]) == []
    again = _invoke(["joins", "reject", cid, "--reason", "twice"], platform["root"])
    assert again.exit_code == 1 and "[invalid_transition]" in again.output


def test_discovery_reads_read_only_tables_as_they_are(platform: dict[str, str]) -> None:
    """A READ_ONLY table (an external source at `<layer>.<table>`) is profiled where it is, every
    time (it changes without Spyne knowing); a join on it is shown, but accepted only once both
    tables are ACTIVE."""
    from orchestration.runtime import runtime

    rt = runtime()
    notes = TableRef(Layer.SILVER, "order_notes")
    rt.catalog.ensure_table(notes, TableState.READ_ONLY)
    with rt.warehouse.connect() as con:
        con.execute(
            "create table silver.order_notes as select range + 1 as note_id, "
            "(range * 3) + 1 as order_id, 'n' || range as body from range(120)"
        )
    found = _json(["joins", "discover", "--json"], platform["ana"])
    read_only = [c for c in found if c["child_table"] == "silver.order_notes"]
    assert [(c["child_columns"], c["parent_table"], c["parent_columns"]) for c in read_only] == [
        (["order_id"], "silver.orders", ["id"])
    ]
    (candidate,) = read_only
    assert (candidate["child_version"], candidate["parent_version"]) == (0, 1)
    assert candidate["orphan_pct"] == 0.0 and candidate["cardinality"] == "one_to_one"
    assert rt.catalog.joins.profiles("duckdb", [("silver.order_notes", 0)]) == {}
    refused = _invoke(
        ["joins", "accept", candidate["id"], "--rationale", "notes are on orders"], platform["root"]
    )
    assert refused.exit_code == 1 and "[invalid_transition]" in refused.output
    assert "READ_ONLY" in refused.output


def test_discovery_needs_an_identity_and_a_sane_threshold(platform: dict[str, str]) -> None:
    result = runner.invoke(app, ["joins", "discover"], env={"SPYNE_API_KEY": ""})
    assert result.exit_code == 1 and "[authentication_required]" in result.output
    result = _invoke(["joins", "discover", "--min-confidence", "1.5"], platform["root"])
    assert result.exit_code == 1 and "[validation_failed]" in result.output
    result = _invoke(["joins", "discover", "--tables", "silver.nope"], platform["root"])
    assert result.exit_code == 1 and "[not_found]" in result.output


def _mapping(c: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str]], str]:
    pairs = frozenset(zip(c["child_columns"], c["parent_columns"], strict=True))
    return (c["child_table"].split(".")[-1], pairs, c["parent_table"].split(".")[-1])


def test_precision_and_recall_on_generated_schemas_with_decoys(tmp_path: Path) -> None:
    """Three ERPs (36 tables x up to 30 columns): sibling keys, small integers, sparse keys,
    two-column keys, a many-to-many bridge, a 1:1 extension; read from a plain DuckDB file."""
    path = tmp_path / "erp.duckdb"
    with duckdb.connect(str(path)) as con:
        truth = generate(con, 36)
    found = _json(["joins", "discover", "--duckdb", str(path), "--json"])
    expected = {
        (
            t.child_table,
            frozenset(zip(t.child_columns, t.parent_columns, strict=True)),
            t.parent_table,
        )
        for t in truth
    }
    got = {_mapping(c) for c in found}
    true_positives = got & expected
    precision, recall = len(true_positives) / len(got), len(true_positives) / len(expected)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, got ^ expected)
    assert any(len(c["child_columns"]) == 2 for c in found), "the two-column key is found"
    sparse = next(c for c in found if c["child_columns"] == ["sales_employee_id"])
    assert sparse["null_pct"] == 70.0 and "warning" in sparse["flags"]
    assert all(c["child_columns"] != ["priority"] for c in found), "small integers are decoys"


def test_the_candidates_asset_shows_discovery_in_the_ui(
    platform: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance, materialize

    from orchestration.assets.join_candidates import CANDIDATES_KEY, join_candidates
    from orchestration.assets.resources import SpyneResource

    monkeypatch.setenv("SPYNE_SERVICE_KEY", platform["eng"])
    result = materialize(
        [join_candidates],
        resources={"spyne": SpyneResource.from_environment()},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    (event,) = result.asset_materializations_for_node(join_candidates.op.name)
    assert event.asset_key == CANDIDATES_KEY
    metadata = event.metadata
    assert metadata["count"].value == 1 and metadata["tables"].value == 2
    assert "silver.orders(customer_id)" in str(metadata["candidates"].value)
