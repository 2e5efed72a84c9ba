"""Roles and modes are hard boundaries on every entry point: each identity x each CLI command,
and Dagster runs with each identity and with none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance
from typer.testing import CliRunner

from orchestration.cli import app, group_app
from orchestration.identity import Actor
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

runner = CliRunner()
MATRIX = yaml.safe_load((Path(__file__).parent / "fixtures" / "access_matrix.yaml").read_text())
REF = TableRef(Layer.SILVER, "accounts")
ROLES = {
    "viewer": Role.VIEWER,
    "analyst": Role.ANALYST,
    "engineer": Role.ENGINEER,
    "admin": Role.ADMIN,
}
NAMES = {"viewer": "vic"}


def _install() -> dict[str, str]:
    from orchestration.install import init
    from orchestration.runtime import runtime

    init()
    rt = runtime()
    keys = {}
    for who, role in ROLES.items():
        _, keys[who] = rt.catalog.create_principal(NAMES.get(who, who), role, "test")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "admin")
    people = {p.name: Actor(p) for p in rt.catalog.list_principals()}
    svc = rt.service()
    for rows in (3, 4):
        version = svc.allocate_version(people["engineer"], REF)
        rt.warehouse.create_version(REF, version, f"select range as id from range({rows})")
        svc.register_build(people["engineer"], REF, version, None)
        rt.catalog.record_gate(REF.canonical, version, "passed", actor="engineer")
    svc.promote(people["admin"], REF.canonical, 1)
    return keys


CASES = [
    pytest.param(command, who, id=f"{command['id']}-{who}")
    for command in MATRIX["commands"]
    for who in MATRIX["identities"]
]


@pytest.mark.parametrize(("command", "who"), CASES)
def test_cli_command_by_identity(
    command: dict[str, Any],
    who: str,
    installed_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration.gates import suites
    from orchestration.runtime import runtime

    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path / "expectations")
    keys = _install()
    rt = runtime()
    admin = Actor(next(p for p in rt.catalog.list_principals() if p.name == "admin"))
    if command.get("setup") == "promoted_v2":
        rt.service().promote(admin, REF.canonical, 2)
    elif command.get("setup") == "deprecated":
        rt.service().deprecate(admin, REF.canonical, "test")
    if who != "none":
        monkeypatch.setenv("SPYNE_API_KEY", keys[who])
    before = (rt.catalog.get_table(REF), rt.warehouse.view_version(REF), rt.catalog.current_mode())
    args = [a.replace("{tmp}", str(tmp_path)) for a in command["args"]]
    result = runner.invoke(app, args)
    if who in command["allow"]:
        assert result.exit_code == 0, result.output
        return
    expected = "authentication_required" if who == "none" else "permission_denied"
    assert result.exit_code == 1 and f"[{expected}]" in result.output, result.output
    after = (rt.catalog.get_table(REF), rt.warehouse.view_version(REF), rt.catalog.current_mode())
    assert after == before, "a refusal changes nothing"
    assert not (tmp_path / "expectations").exists() and not (tmp_path / "erp.duckdb").exists()


def test_the_matrix_covers_every_write_command() -> None:
    covered = {tuple(c["args"][:2]) for c in MATRIX["commands"]}
    for group in ("tables", "auth", "mode", "gates", "sample"):
        assert group_app(group).registered_commands, group
    assert ("tables", "promote") in covered and ("auth", "disable-key") in covered


def _run(job_name: str, tags: dict[str, str] | None = None) -> Any:
    from orchestration.definitions import defs

    return defs.resolve_job_def(job_name).execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False, tags=tags
    )


def _failure(result: Any) -> str:
    event = next(e for e in result.all_events if e.is_step_failure)
    error = event.event_specific_data.error
    return str(error.message if error else event)


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("none", "authentication_required"),
        ("viewer", "permission_denied"),
        ("analyst", "permission_denied"),
        ("engineer", None),
        ("launched_by_admin", None),
        ("grant_of_another_run", "authentication_required"),
    ],
)
def test_dagster_runs_act_as_an_identity_or_refuse(
    identity: str, expected: str | None, installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention janitor as a run: with a service key of each role, launched by a person
    through `spyne` (a grant bound to the run), with a grant made for another run, and with
    nothing at all."""
    from dagster._core.utils import make_new_run_id

    from orchestration.definitions import defs
    from orchestration.run_identity import launch_tags
    from orchestration.runtime import runtime

    keys = _install()
    catalog = runtime().catalog
    run_id = make_new_run_id()
    tags: dict[str, str] | None = None
    if identity in ROLES:
        monkeypatch.setenv("SPYNE_SERVICE_KEY", keys[identity])
    elif identity != "none":
        admin = catalog.authenticate(keys["admin"])
        bound_to = run_id if identity == "launched_by_admin" else make_new_run_id()
        tags = launch_tags(catalog, admin, bound_to)
    result = defs.resolve_job_def("spyne_janitor").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False, run_id=run_id, tags=tags
    )
    if expected is None:
        assert result.success, _failure(result)
        return
    assert not result.success and expected in _failure(result)
    assert not any(e.action == "drop_version" for e in catalog.list_audit(limit=50))


@pytest.mark.parametrize("job", ["bronze_layer", "silver_layer", "gold_layer", "spyne_janitor"])
def test_read_only_refuses_every_job_that_writes(
    job: str, installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.runtime import runtime
    from orchestration.sample.generator import generate

    keys = _install()
    rt = runtime()
    generate(rt.source_path, lines=50, seed=1)
    rt.catalog.set_mode(SystemMode.READ_ONLY, "admin")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", keys["engineer"])
    tables_before = {t.name: t for t in rt.catalog.list_tables()}
    result = _run(job)
    assert not result.success and "mode_refused" in _failure(result)
    assert {t.name: t for t in rt.catalog.list_tables()} == tables_before
