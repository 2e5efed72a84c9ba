"""A small code location for the run tests: real errors, Spyne's retry policy, queue tags, the sensor.

- ``flaky`` connects to the PostgreSQL URL written in the file ``$SPYNE_TEST_FLAKY_URL_FILE``: a
  closed port gives psycopg2's real "connection refused" (TRANSIENT_ERROR, retried); writing a
  real server's URL there fixes it, as an operator fixes a network;
- ``refused`` raises Spyne's own PermissionDenied (PERMISSION_DENIED, never retried);
- ``sleepy`` holds a run slot for a moment, for the run queue test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg2
from dagster import Definitions, job, op

from orchestration.assets.resources import as_failure
from orchestration.runs.dead_letters import spyne_dead_letters
from orchestration.runs.retries import failures_classified, retry_policy
from orchestration.runs.tags import job_tags
from policies.errors import PermissionDenied

FLAKY_URL_FILE = "SPYNE_TEST_FLAKY_URL_FILE"
FAST_RETRIES = retry_policy(base_delay_seconds=0.05)


@op(retry_policy=FAST_RETRIES)
def reach_postgres() -> None:
    url = Path(os.environ[FLAKY_URL_FILE]).read_text().strip()
    with failures_classified():
        psycopg2.connect(url, connect_timeout=5).close()


@op(retry_policy=FAST_RETRIES)
def refuse() -> None:
    err = PermissionDenied(
        "build needs the engineer role or higher; you are analyst",
        details={"required_role": "engineer"},
    )
    raise as_failure(err) from err


@op
def hold_a_slot() -> None:
    time.sleep(1.0)


@job(tags=job_tags())
def flaky() -> None:
    reach_postgres()


@job(tags=job_tags())
def refused() -> None:
    refuse()


@job(tags=job_tags())
def sleepy() -> None:
    hold_a_slot()


defs = Definitions(jobs=[flaky, refused, sleepy], sensors=[spyne_dead_letters])
