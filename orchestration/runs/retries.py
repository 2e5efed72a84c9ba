"""Retries by failure class: a step's error becomes a ``Failure`` its ``RetryPolicy`` honours.

Every Spyne step carries :func:`retry_policy` (at most ``MAX_TRIES`` tries, exponential
backoff). When a step fails, its error is classified (:mod:`policies.failures`) and raised as a
Dagster ``Failure`` with ``allow_retries`` set from the class: Dagster then retries the
retryable classes with the policy's backoff, and fails the terminal ones at once (a retry
policy never sees them). The class is the head of the failure's description and in its
metadata, so the step's failure says it in the UI and the dead-letter list reads it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Backoff, Failure, Jitter, MetadataValue, RetryPolicy, RetryRequested
from dagster._core.errors import DagsterError

from orchestration.runs.facts import facts_from_exception
from policies.errors import SpyneError
from policies.failures import BASE_DELAY_SECONDS, MAX_TRIES, Classification, FailureFacts, classify

CLASS_KEY = "spyne/failure_class"
RETRYABLE_KEY = "spyne/retryable"
RULE_KEY = "spyne/failure_rule"


def retry_policy(base_delay_seconds: float = BASE_DELAY_SECONDS) -> RetryPolicy:
    """At most MAX_TRIES tries in all, waiting longer each time (with jitter, so retries of
    several runs do not all hit a busy warehouse at the same instant)."""
    return RetryPolicy(
        max_retries=MAX_TRIES - 1,
        delay=base_delay_seconds,
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


RETRY_POLICY = retry_policy()


def failure_for(
    found: Classification, message: str, metadata: dict[str, Any] | None = None
) -> Failure:
    return Failure(
        description=found.describe(message),
        metadata={
            **(metadata or {}),
            CLASS_KEY: found.failure_class.value,
            RETRYABLE_KEY: found.retryable,
            RULE_KEY: found.rule,
            "spyne/failure_why": MetadataValue.text(found.why),
        },
        allow_retries=found.retryable,
    )


def classified_failure(exc: BaseException, *, partial: bool = False) -> Failure:
    """The step's error as a Failure of its class; retried only when the class allows it."""
    found = classify(facts_from_exception(exc, partial=partial))
    if isinstance(exc, SpyneError):
        message = f"[{exc.code}] {exc.message}"
        metadata: dict[str, Any] = {
            "code": exc.code,
            **{k: str(v) for k, v in exc.details.items()},
        }
    else:
        first = str(exc).strip().splitlines()
        message = f"{type(exc).__name__}: {first[0] if first else ''}"
        metadata = {"error": type(exc).__name__}
    return failure_for(found, message, metadata)


def partial_failure(problems: list[str], *, kept_work: bool, metadata: dict[str, Any]) -> Failure:
    """A step that decided everything it could and still fails at its end."""
    text = "; ".join(problems)
    found = classify(FailureFacts(message=text, partial=kept_work))
    return failure_for(found, text, metadata)


@contextmanager
def failures_classified() -> Iterator[None]:
    """Around a step's body: anything it raises leaves as a classified Failure.

    Dagster's own control flow (an already classified Failure, a retry request, framework
    errors) passes through untouched.
    """
    try:
        yield
    except (Failure, RetryRequested, DagsterError):
        raise
    except SpyneError as err:
        raise classified_failure(err) from err
    except Exception as exc:
        raise classified_failure(exc) from exc
