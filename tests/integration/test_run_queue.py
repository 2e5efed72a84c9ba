"""Ten runs of one organisation on a real Dagster instance on PostgreSQL, configured by Spyne's
own instance_config: the queue never runs more than three at once, and all ten finish."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from orchestration.dagster_instance import ORG_CONCURRENCY, instance_config
from orchestration.runs.tags import ORG_TAG
from policies.settings import settings_from_mapping
from tests.pg import PgRoles
from tests.runs_support import (
    FINISHED,
    IN_PROGRESS,
    dequeue_until,
    served_location,
    statuses,
    submit,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _max_overlap(instance: DagsterInstance, run_ids: list[str]) -> int:
    """The most runs in progress at one instant, from each run's recorded start and end."""
    edges: list[tuple[float, int]] = []
    for run_id in run_ids:
        (starting,) = instance.all_logs(run_id, of_type=DagsterEventType.RUN_STARTING)
        (ended,) = instance.all_logs(run_id, of_type=DagsterEventType.RUN_SUCCESS)
        edges += [(starting.timestamp, 1), (ended.timestamp, -1)]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def test_ten_runs_of_one_org_never_more_than_three_at_once(
    pg_roles: PgRoles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYNE_DAGSTER_PG_URL", pg_roles.owner_url)
    monkeypatch.setenv("SPYNE_ORG", "acme")
    settings = settings_from_mapping(
        {"SPYNE_ENV": "ci", "SPYNE_CATALOG_URL": pg_roles.app_url}, str(tmp_path)
    )
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(settings)))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.from_config(str(home)) as instance, served_location(instance) as context:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        run_ids = [submit(context, "sleepy").run_id for _ in range(10)]
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.tags[ORG_TAG] == "acme"
        assert set(statuses(instance, run_ids).values()) == {DagsterRunStatus.QUEUED}

        seen: list[int] = []
        still_queued: list[int] = []

        def observe() -> None:
            now = statuses(instance, run_ids).values()
            seen.append(sum(1 for s in now if s in IN_PROGRESS))
            still_queued.append(sum(1 for s in now if s == DagsterRunStatus.QUEUED))

        dequeue_until(
            context,
            lambda: all(s in FINISHED for s in statuses(instance, run_ids).values()),
            observe,
        )
        assert max(seen) <= ORG_CONCURRENCY
        # Without the limit the first pass would have launched all ten (10 may run at once).
        assert still_queued[0] >= len(run_ids) - ORG_CONCURRENCY
        assert {s.value for s in statuses(instance, run_ids).values()} == {"SUCCESS"}
        assert _max_overlap(instance, run_ids) <= ORG_CONCURRENCY
