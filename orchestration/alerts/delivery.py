"""Delivery rounds: each due delivery is tried a few times with a doubling backoff.

A round that fails is kept with its error and a time to try again (the sensors look for due
deliveries on every tick), until the policy's ``max_rounds``, then it is given up and stays in
the catalog as such. Nothing here raises: a failed delivery never fails the run or sensor that
raised the alert.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from orchestration.alerts.channels import DeliveryFailed, send
from orchestration.catalog import Catalog
from orchestration.catalog.audit import now
from orchestration.catalog.notifications import DeliveryInfo
from policies.alerts import AlertPolicy, backoff


@dataclass(frozen=True)
class Outcome:
    delivery: DeliveryInfo
    tries: int


def deliver_due(
    catalog: Catalog,
    policy: AlertPolicy,
    home: Path,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Outcome]:
    """One round for each due delivery, until the pass's time budget is spent."""
    env = os.environ if environ is None else environ
    outcomes = []
    deadline = clock() + policy.delivery.budget_seconds
    for due in catalog.notifications.due_deliveries():
        if clock() >= deadline:
            break  # still due: the next pass takes it
        alert = catalog.notifications.get(due.notification_id).to_dict()
        channel = policy.channels.get(due.channel)
        error: str | None = None
        tries = 0
        if channel is None:
            error = f"channel {due.channel!r} is no longer in the alert policy"
        else:
            for attempt in range(1, policy.delivery.attempts + 1):
                tries = attempt
                try:
                    send(
                        channel,
                        alert,
                        home=home,
                        environ=env,
                        timeout=policy.delivery.timeout_seconds,
                    )
                    error = None
                    break
                except DeliveryFailed as exc:
                    error = str(exc)
                    if attempt < policy.delivery.attempts:
                        sleep(backoff(policy.delivery, attempt))
        last_round = due.rounds + 1 >= policy.delivery.max_rounds
        retry_at = (
            None
            if error is None or last_round
            else now() + timedelta(seconds=policy.delivery.retry_after_seconds)
        )
        settled = catalog.notifications.settle_delivery(
            due.id, ok=error is None, attempts=tries, error=error, retry_at=retry_at
        )
        outcomes.append(Outcome(settled, tries))
    return outcomes
