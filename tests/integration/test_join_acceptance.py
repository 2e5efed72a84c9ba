"""Accepting a join writes reviewed dbt code and its gate suite: the files parse, build through
the versioned materialization and pass their tests on DuckDB, the suite is the one `spyne gates
generate` derives from the manifest; v2 deprecates v1; roles and degraded stats are refused with
nothing written; an interrupted acceptance is settled from the files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from orchestration.assets import project as dbt_nodes
from orchestration.assets.project import table_name
from orchestration.catalog.joins import CandidateInfo
from orchestration.environment import DBT_PROJECT_DIR
from orchestration.gates.suites import load_suite, suite_document, suite_from_dbt_node
from orchestration.identity import Actor, current_actor
from orchestration.joins import codegen, gate_suite
from orchestration.joins.acceptance import accept, deprecate, settle
from orchestration.joins.review import discover_on_platform
from orchestration.runtime import Runtime, runtime
from policies.errors import SpyneError
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

CUSTOMERS = TableRef(Layer.SILVER, "customers")
ORDERS = TableRef(Layer.SILVER, "orders")
MODEL = "jn_customers_orders"
SILVER_MODELS = {
    "customers": "select range + 1 as id, 'c' || range as name from range(20)",
    "orders": "select range + 1 as id, (range % 15) + 1 as customer_id, range * 2 as amount "
    "from range(100)",
}


def project_copy(tmp: Path) -> Path:
    """The project's dbt setup (macros, profiles) with two small silver models of its own."""
    project = tmp / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "models")
    )
    silver = project / "models" / "silver"
    silver.mkdir(parents=True)
    for name, sql in SILVER_MODELS.items():
        (silver / f"{name}.sql").write_text(sql + "\n")
    return project


def dbt(
    project: Path, warehouse: Path, *args: str, versions: Mapping[str, int] | None = None
) -> dbtRunnerResult:
    env = {
        "SPYNE_WAREHOUSE_PATH": str(warehouse),
        "SPYNE_DBT_VERSIONS": json.dumps(dict(versions or {})),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target",
                "local",
                "--quiet",
            ]
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _publish(rt: Runtime, admin: Actor, ref: TableRef, sql: str) -> int:
    svc = rt.service()
    version = svc.allocate_version(admin, ref)
    rt.warehouse.create_version(ref, version, sql)
    svc.register_build(admin, ref, version, None)
    rt.catalog.record_gate(ref.canonical, version, "passed", {"test": True}, actor=admin.name)
    svc.promote(admin, ref.canonical, version)
    return version


@pytest.fixture
def platform(installed_home: Path, tmp_path: Path) -> dict[str, Any]:
    rt = runtime()
    keys = {}
    for name, role in (("root", Role.ADMIN), ("eng", Role.ENGINEER)):
        _, keys[name] = rt.catalog.create_principal(name, role, created_by="test")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "root")
    admin = current_actor(rt.catalog, keys["root"])
    for ref in (CUSTOMERS, ORDERS):
        _publish(rt, admin, ref, SILVER_MODELS[ref.name])
    (candidate,) = discover_on_platform(
        rt.catalog, rt.warehouse, admin, min_confidence=0.5
    ).candidates
    return {
        "rt": rt,
        "admin": admin,
        "eng": current_actor(rt.catalog, keys["eng"]),
        "candidate": candidate,
        "project": project_copy(tmp_path),
        "suites": tmp_path / "expectations",
    }


def _model(project: Path) -> dict[str, Any]:
    found = codegen.read_model(project, MODEL)
    assert found is not None
    return found


def test_an_accepted_join_parses_builds_and_passes_its_tests(platform: dict[str, Any]) -> None:
    rt, admin, project = platform["rt"], platform["admin"], platform["project"]
    candidate: CandidateInfo = platform["candidate"]
    assert (candidate.child_table, candidate.parent_table) == ("silver.orders", "silver.customers")
    suites = platform["suites"]
    done = accept(
        rt.catalog, rt.warehouse, admin, candidate.id, "orders belong to customers", "left",
        project, suites,
    )  # fmt: skip
    assert (done.model_name, done.version, done.state) == (MODEL, 1, "ACTIVE")
    sql = codegen.sql_path(project, MODEL, 1).read_text()
    assert "from {{ ref('orders') }}" in sql and "left join customers" in sql
    model = _model(project)
    assert (
        model["latest_version"] == 1 and "One row per row of silver.orders" in model["description"]
    )
    review = model["versions"][0]["config"]["meta"]["spyne"]
    assert review["accepted_by"] == "root" and review["candidate"] == candidate.id
    assert (
        review["rationale"] == "orders belong to customers" and review["stats"]["orphan_pct"] == 0.0
    )
    warehouse = rt.warehouse.path
    assert warehouse is not None
    assert dbt(project, warehouse, "parse").success
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    node = manifest["nodes"][f"model.spyne.{MODEL}.v1"]
    assert node["config"]["meta"]["spyne"]["join_id"] == MODEL
    assert table_name(node) == f"{MODEL}_v1", "each dbt model version is its own Spyne table"
    # Its gate suite was written with it: the one `spyne gates generate` derives from dbt.
    written = load_suite("joins", f"{MODEL}_v1", root=suites)
    assert written is not None and written.name == f"joins.{MODEL}"
    from_manifest = suite_from_dbt_node(node, dbt_nodes.tests_for(node["unique_id"], manifest))
    assert suite_document(written)["expectations"] == suite_document(from_manifest)["expectations"]
    checks = {
        (e.configuration.type, e.configuration.kwargs.get("column")) for e in written.expectations
    }
    assert ("expect_column_values_to_not_be_null", "customer_id") in checks
    assert ("expect_column_proportion_of_unique_values_to_be_between", "id") in checks
    built = dbt(
        project, warehouse, "build", "--select", f"{MODEL}", versions={f"joins.{MODEL}_v1": 1}
    )
    assert built.success, [r.message for r in built.result or []]
    statuses = {r.node.unique_id.split(".")[0]: r.status for r in built.result or []}
    assert set(statuses.values()) <= {"success", "pass"}, statuses
    tests = [r.node.name for r in built.result or [] if r.node.resource_type == "test"]
    assert any("spyne_join_fan_out" in t for t in tests) and any(
        "relationships" in t for t in tests
    )
    with duckdb.connect(str(warehouse)) as con:  # dbt keeps its own read-write connection
        rows = con.execute(
            f"select count(*), count(customers_name) from joins__shadow.{MODEL}_v1__v1"
        ).fetchall()
    assert rows == [(100, 100)], "one row per order, each with its customer"


def test_a_changed_join_is_version_two_and_deprecates_version_one(platform: dict[str, Any]) -> None:
    rt, admin, project = platform["rt"], platform["admin"], platform["project"]
    suites, cid = platform["suites"], platform["candidate"].id
    accept(
        rt.catalog, rt.warehouse, admin, cid, "orders belong to customers", "left", project, suites
    )
    with pytest.raises(SpyneError) as refused:
        accept(rt.catalog, rt.warehouse, admin, cid, "again", "left", project, suites)
    assert refused.value.code == "invalid_transition"
    # the candidate is accepted now: a new discovery on the same versions finds it accepted
    rt.catalog.joins.decide(
        cid, "open", "root", "reopened for a change", allowed_from=("accepted",)
    )
    v2 = accept(
        rt.catalog, rt.warehouse, admin, cid, "only matched orders", "inner", project, suites
    )
    assert v2.version == 2
    model = _model(project)
    assert model["latest_version"] == 2
    v1_entry, v2_entry = model["versions"]
    assert v1_entry["deprecation_date"] and "deprecation_date" not in v2_entry
    states = {a.version: a.state for a in rt.catalog.joins.accepted(MODEL)}
    assert states == {1: "DEPRECATED", 2: "ACTIVE"}
    assert codegen.sql_path(project, MODEL, 1).exists(), "v1 is deprecated, never deleted"
    assert all(gate_suite.suite_file(MODEL, v, suites).is_file() for v in (1, 2))
    assert "inner join customers" in codegen.sql_path(project, MODEL, 2).read_text()
    warehouse = rt.warehouse.path
    assert warehouse is not None and dbt(project, warehouse, "parse").success
    gone = deprecate(rt.catalog, admin, MODEL, "replaced by a contract", project, suites)
    assert (gone.version, gone.state) == (2, "DEPRECATED")
    assert all(v.get("deprecation_date") for v in _model(project)["versions"])


def test_refusals_write_nothing(platform: dict[str, Any]) -> None:
    rt, admin, eng, project = (
        platform["rt"],
        platform["admin"],
        platform["eng"],
        platform["project"],
    )
    suites, cid = platform["suites"], platform["candidate"].id
    with pytest.raises(SpyneError) as refused:
        accept(rt.catalog, rt.warehouse, eng, cid, "looks right", "left", project, suites)
    assert refused.value.code == "permission_denied"
    with pytest.raises(SpyneError) as refused:
        accept(rt.catalog, rt.warehouse, admin, cid, "  ", "left", project, suites)
    assert refused.value.code == "invalid_transition" and "rationale" in refused.value.message
    # The orders get orphans after discovery: acceptance measures again and refuses.
    _publish(
        rt,
        admin,
        ORDERS,
        "select range + 1 as id, (range % 40) + 1 as customer_id, range * 2 as amount from range(100)",
    )
    with pytest.raises(SpyneError) as refused:
        accept(
            rt.catalog,
            rt.warehouse,
            admin,
            cid,
            "orders belong to customers",
            "left",
            project,
            suites,
        )
    assert "orphan rows grew from 0.0% to" in refused.value.message
    assert refused.value.details["now"] > 0
    assert not (project / "models" / "joins").exists() or not any(
        p for p in (project / "models" / "joins").iterdir() if not p.name.startswith(".")
    )
    assert rt.catalog.joins.accepted() == []
    assert not suites.exists() or not any(suites.rglob("*.json")), "no suite either"
    refusals = [e for e in rt.catalog.list_audit(action="accept_join") if e.outcome == "refused"]
    assert len(refusals) == 3


def test_an_interrupted_acceptance_is_settled_from_the_files(platform: dict[str, Any]) -> None:
    rt, admin, project, suites = (
        platform["rt"],
        platform["admin"],
        platform["project"],
        platform["suites"],
    )
    candidate: CandidateInfo = platform["candidate"]
    # Killed after the intent, before the yml (the commit point): the stray SQL goes.
    pending = rt.catalog.joins.begin_accept(candidate, MODEL, "left", "why", "root", {})
    codegen.write_atomically(codegen.sql_path(project, MODEL, 1), "select 1\n")
    stray = gate_suite.suite_file(MODEL, 1, suites)
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    (project / "models" / "joins" / f".{MODEL}.yml.x.tmp").write_text("half")
    (settled,) = settle(rt.catalog, project, "root", suites)
    assert (settled.version, settled.state) == (pending.version, "DEPRECATED")
    assert not codegen.sql_path(project, MODEL, 1).exists() and not stray.exists()
    assert codegen.leftovers(project) == []
    # Killed after the yml: the acceptance is finished.
    done = accept(rt.catalog, rt.warehouse, admin, candidate.id, "why", "left", project, suites)
    assert done.version == 2 and done.state == "ACTIVE"
    assert gate_suite.suite_file(MODEL, 2, suites).is_file()


def test_the_shipped_join_suites_are_what_acceptance_writes() -> None:
    """Each accepted join of the repository has the suite acceptance derives from its yml."""
    models = sorted((DBT_PROJECT_DIR / "models" / "joins").glob("jn_*.yml"))
    assert models
    for path in models:
        for version, entry in codegen.versions_in(
            codegen.read_model(DBT_PROJECT_DIR, path.stem)
        ).items():
            stored = load_suite("joins", gate_suite.table_of(path.stem, version))
            assert stored is not None, f"{path.stem} v{version} has no suite"
            derived = gate_suite.suite_for(path.stem, entry)
            assert suite_document(stored)["expectations"] == suite_document(derived)["expectations"]
