"""Retries by failure class on a real Dagster instance: retryable errors get three tries with
backoff, terminal ones one; Spyne's own steps carry the policy and classify their refusals."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from orchestration.runs.history import attempts
from orchestration.runs.retries import CLASS_KEY, RETRY_POLICY
from policies.failures import MAX_TRIES, FailureClass
from tests.integration import runs_location


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://nobody:nothing@127.0.0.1:{port}/none"


def _events(instance: DagsterInstance, run_id: str, kind: DagsterEventType) -> list[object]:
    return [r.get_dagster_event() for r in instance.all_logs(run_id, of_type=kind)]


def test_a_retryable_error_gets_every_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url_file = tmp_path / "url"
    url_file.write_text(_closed_port_url())
    monkeypatch.setenv(runs_location.FLAKY_URL_FILE, str(url_file))
    with DagsterInstance.ephemeral() as instance:
        result = runs_location.flaky.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        retries = _events(instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY)
        (failure,) = _events(instance, result.run_id, DagsterEventType.STEP_FAILURE)
        assert len(retries) == MAX_TRIES - 1
        meta = failure.step_failure_data.user_failure_data.metadata  # type: ignore[attr-defined]
        assert meta[CLASS_KEY].value == "TRANSIENT_ERROR"
        history = attempts(instance, result.run_id)
        assert [(a.attempt, a.failure_class, a.final) for a in history] == [
            (1, FailureClass.TRANSIENT_ERROR, False),
            (2, FailureClass.TRANSIENT_ERROR, False),
            (3, FailureClass.TRANSIENT_ERROR, True),
        ]
        assert "Connection refused" in history[0].message


def test_a_terminal_error_is_never_retried() -> None:
    with DagsterInstance.ephemeral() as instance:
        result = runs_location.refused.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        assert _events(instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY) == []
        (failure,) = _events(instance, result.run_id, DagsterEventType.STEP_FAILURE)
        data = failure.step_failure_data.user_failure_data  # type: ignore[attr-defined]
        assert data.metadata[CLASS_KEY].value == "PERMISSION_DENIED"
        assert data.description.startswith("[PERMISSION_DENIED] (not retried) [permission_denied]")


def test_a_retry_that_works_ends_the_run_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """Reachable on the first try: one attempt, no failure (the policy only acts on failures)."""
    url_file = tmp_path / "url"
    url_file.write_text(pg_url.replace("postgresql+psycopg2://", "postgresql://"))
    monkeypatch.setenv(runs_location.FLAKY_URL_FILE, str(url_file))
    with DagsterInstance.ephemeral() as instance:
        result = runs_location.flaky.execute_in_process(instance=instance)
        assert result.success
        assert _events(instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_every_spyne_step_carries_the_retry_policy(spyne_home: Path) -> None:
    from orchestration.definitions import defs

    steps = {
        node.name: node.definition.retry_policy
        for name in ("bronze_layer", "silver_layer", "gold_layer", "spyne_janitor")
        for node in defs.resolve_job_def(name).graph.nodes
    }
    assert set(steps) == {"bronze_ingest", "silver_build", "gold_build", "drop_expired_versions"}
    assert all(policy == RETRY_POLICY for policy in steps.values())
    assert RETRY_POLICY.max_retries == MAX_TRIES - 1


def test_a_spyne_run_without_identity_fails_once_as_permission_denied(installed_home: Path) -> None:
    """The real bronze step: no grant, no service key, so it refuses at once and is not retried."""
    from orchestration.definitions import defs

    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("bronze_layer").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not result.success
        assert _events(instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY) == []
        (failure,) = _events(instance, result.run_id, DagsterEventType.STEP_FAILURE)
        data = failure.step_failure_data.user_failure_data  # type: ignore[attr-defined]
        assert data.metadata[CLASS_KEY].value == "PERMISSION_DENIED"
        assert data.metadata["code"].value == "authentication_required"
