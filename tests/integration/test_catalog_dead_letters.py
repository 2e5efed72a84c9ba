"""Dead letters in the catalog: recorded once, requeued once, history never rewritten (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog, NewDeadLetter
from policies.errors import InvalidTransition, NotFound
from policies.failures import FailureClass


def _letter(run_id: str = "run-1") -> NewDeadLetter:
    return NewDeadLetter(
        run_id=run_id,
        job_name="bronze_layer",
        selection={"assets": ["bronze/res_partner/shadow"], "checks": None, "ops": None},
        failure_class=FailureClass.TRANSIENT_ERROR,
        why="step bronze_ingest failed 3 time(s) with TRANSIENT_ERROR; its retries are used up",
        steps=[
            {"step": "bronze_ingest", "attempt": n, "class": "TRANSIENT_ERROR", "message": "lock"}
            for n in (1, 2, 3)
        ],
        failed_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        org="acme",
        launched_by="schedule:spyne_daily_schedule",
    )


def test_recorded_once_listed_and_audited(catalog: Catalog) -> None:
    first = catalog.record_dead_letter(_letter(), "dagster", "sensor:spyne_dead_letters")
    again = catalog.record_dead_letter(_letter(), "dagster", "sensor:spyne_dead_letters")
    assert again == first
    assert [d.run_id for d in catalog.list_dead_letters()] == ["run-1"]
    assert first.failure_class == FailureClass.TRANSIENT_ERROR
    assert [s["attempt"] for s in first.steps] == [1, 2, 3]
    assert first.selection["assets"] == ["bronze/res_partner/shadow"]
    (entry,) = catalog.list_audit(action="dead_letter")
    assert entry.target == "run:run-1" and entry.details["failure_class"] == "TRANSIENT_ERROR"
    assert entry.launched_by == "sensor:spyne_dead_letters"
    assert catalog.verify_audit().ok


def test_requeued_once_then_refused_and_hidden(catalog: Catalog) -> None:
    catalog.record_dead_letter(_letter(), "dagster")
    claimed = catalog.claim_requeue("run-1", "run-2", "ada")
    assert (claimed.requeued_run_id, claimed.requeued_by) == ("run-2", "ada")
    with pytest.raises(InvalidTransition, match="already requeued as run run-2 by ada"):
        catalog.claim_requeue("run-1", "run-3", "bob")
    assert catalog.list_dead_letters() == []
    assert [d.run_id for d in catalog.list_dead_letters(include_requeued=True)] == ["run-1"]
    (entry,) = catalog.list_audit(action="requeue_run")
    assert entry.actor == "ada" and entry.details["new_run_id"] == "run-2"
    with pytest.raises(NotFound, match="not in the dead-letter list"):
        catalog.claim_requeue("nope", "x", "ada")


def test_history_is_never_rewritten_or_deleted(catalog: Catalog, raw: sa.Engine) -> None:
    catalog.record_dead_letter(_letter(), "dagster")
    for statement in (
        "UPDATE dead_letters SET why = 'nothing happened'",
        "UPDATE dead_letters SET failure_class = 'TIMEOUT'",
        "DELETE FROM dead_letters",
    ):
        with pytest.raises(sa.exc.DBAPIError), raw.begin() as conn:
            conn.execute(sa.text(statement))
    catalog.claim_requeue("run-1", "run-2", "ada")
    with pytest.raises(sa.exc.DBAPIError, match="requeued once"), raw.begin() as conn:
        conn.execute(sa.text("UPDATE dead_letters SET requeued_run_id = 'run-9'"))
    assert catalog.get_dead_letter("run-1").requeued_run_id == "run-2"
    assert catalog.get_dead_letter("run-1").why.startswith("step bronze_ingest")
