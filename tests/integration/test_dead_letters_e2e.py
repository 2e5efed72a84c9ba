"""A run whose retries are used up lands in the dead-letter list; an admin requeues it; it runs.

All real: the catalog and Dagster's storage on PostgreSQL (ci), the run launched from a code
server through the instance's run queue, psycopg2's own "connection refused" retried by the
step's policy, the dead-letter sensor evaluated on the run's failure event, `spyne runs` through
the CLI, the requeued run dequeued and run by the daemon loop.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus, build_run_status_sensor_context
from typer.testing import CliRunner

from orchestration.runs.dead_letters import SENSOR_NAME, spyne_dead_letters
from orchestration.runs.tags import FAILURE_CLASS_TAG, ORG_TAG, REQUEUED_FROM_TAG
from tests.pg import PgRoles
from tests.runs_support import FINISHED, dequeue_until, served_location, submit

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
runner = CliRunner()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://nobody:nothing@127.0.0.1:{port}/none"


def _finish(context, run_id: str):  # type: ignore[no-untyped-def]
    instance = context.instance
    dequeue_until(context, lambda: instance.get_run_by_id(run_id).status in FINISHED)
    return instance.get_run_by_id(run_id)


def _sensor_sees(instance, run) -> None:  # type: ignore[no-untyped-def]
    (failure,) = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
    context = build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_event=failure.get_dagster_event(),
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    spyne_dead_letters(context)


def test_dead_letter_then_requeue_end_to_end(
    spyne_home: Path, pg_roles: PgRoles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.cli import app
    from orchestration.dagster_instance import dagster_instance
    from orchestration.run_identity import run_actor
    from orchestration.runtime import runtime
    from policies.roles import Role

    monkeypatch.setenv("SPYNE_ENV", "ci")
    monkeypatch.setenv("SPYNE_ORG", "acme")
    monkeypatch.setenv("SPYNE_CATALOG_URL", pg_roles.app_url)
    monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", pg_roles.owner_url)
    monkeypatch.setenv("SPYNE_CATALOG_OWNER_URL", pg_roles.owner_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    monkeypatch.delenv("SPYNE_CATALOG_OWNER_URL")
    catalog = runtime().catalog
    _, admin_key = catalog.create_principal("ada", Role.ADMIN, created_by="test")
    _, engineer_key = catalog.create_principal("eve", Role.ENGINEER, created_by="test")
    _, service_key = catalog.create_principal("dagster", Role.ENGINEER, created_by="test")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", service_key)

    url_file = tmp_path / "flaky-url"
    url_file.write_text(_closed_port_url())
    monkeypatch.setenv("SPYNE_TEST_FLAKY_URL_FILE", str(url_file))

    with dagster_instance(runtime().settings) as instance, served_location(instance) as context:
        # A run whose step fails three times with a retryable error: a dead letter.
        failed = _finish(context, submit(context, "flaky").run_id)
        assert failed.status == DagsterRunStatus.FAILURE
        _sensor_sees(instance, failed)
        _sensor_sees(instance, failed)  # seen twice, filed once
        # A run refused for good: tagged and audited, not a dead letter.
        refused = _finish(context, submit(context, "refused").run_id)
        _sensor_sees(instance, refused)

        assert instance.get_run_by_id(failed.run_id).tags[FAILURE_CLASS_TAG] == "TRANSIENT_ERROR"
        assert instance.get_run_by_id(refused.run_id).tags[FAILURE_CLASS_TAG] == "PERMISSION_DENIED"
        (audited,) = catalog.list_audit(action="run_failed")
        assert audited.target == f"run:{refused.run_id}" and audited.actor == "dagster"
        assert audited.details["failure_class"] == "PERMISSION_DENIED"

        monkeypatch.setenv("SPYNE_API_KEY", engineer_key)
        listed = runner.invoke(app, ["runs", "dead-letters", "--json"])
        assert listed.exit_code == 0, listed.output
        (letter,) = json.loads(listed.output)
        assert letter["run_id"] == failed.run_id and letter["job_name"] == "flaky"
        assert letter["failure_class"] == "TRANSIENT_ERROR" and letter["org"] == "acme"
        assert [(s["step"], s["attempt"], s["class"]) for s in letter["steps"]] == [
            ("reach_postgres", n, "TRANSIENT_ERROR") for n in (1, 2, 3)
        ]
        assert "Connection refused" in letter["steps"][0]["message"]
        table = runner.invoke(app, ["runs", "dead-letters"])
        assert failed.run_id in table.output, table.output
        assert "reach_postgres" in table.output and "3 tries" in table.output, table.output

        # Engineers see dead letters; only an admin requeues (the refusal is audited).
        denied = runner.invoke(app, ["runs", "requeue", failed.run_id])
        assert denied.exit_code == 1 and "permission_denied" in denied.output
        assert catalog.list_audit(action="requeue_run")[0].outcome.value == "refused"

        # The operator fixes the network.
        url_file.write_text(pg_roles.owner_url.replace("postgresql+psycopg2://", "postgresql://"))
        monkeypatch.setenv("SPYNE_API_KEY", admin_key)
        done = runner.invoke(app, ["runs", "requeue", failed.run_id[:8]])
        assert done.exit_code == 0, done.output
        new_id = catalog.get_dead_letter(failed.run_id).requeued_run_id
        assert new_id and f"requeued as run {new_id}" in done.output
        queued = instance.get_run_by_id(new_id)
        assert queued.status == DagsterRunStatus.QUEUED
        assert queued.parent_run_id == failed.run_id and queued.job_name == "flaky"
        assert queued.tags[REQUEUED_FROM_TAG] == failed.run_id and queued.tags[ORG_TAG] == "acme"
        acting = run_actor(catalog, new_id, queued.tags, {})
        assert (acting.name, acting.launched_by) == ("ada", "ada")

        again = runner.invoke(app, ["runs", "requeue", failed.run_id])
        assert again.exit_code == 1 and "already requeued" in again.output

        assert _finish(context, new_id).status == DagsterRunStatus.SUCCESS

    allowed = [e for e in catalog.list_audit(action="requeue_run") if e.outcome.value == "allowed"]
    assert [(e.actor, e.details["new_run_id"]) for e in allowed] == [("ada", new_id)]
    assert [e.target for e in catalog.list_audit(action="dead_letter")] == [f"run:{failed.run_id}"]
    assert catalog.verify_audit().ok
    assert runner.invoke(app, ["runs", "dead-letters", "--json"]).output.strip() == "[]"
