"""A failed run's story from Dagster's event log: each step attempt, its failure class, its message.

Failures Spyne's steps raised carry their class (in the description and the metadata, see
:mod:`orchestration.runs.retries`); anything else that failed (a blocking check, a run worker
that died) is classified from the recorded error by the same policy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagster import DagsterEventType

from orchestration.runs.facts import error_chain, facts_from_error_info
from orchestration.runs.retries import CLASS_KEY, RETRYABLE_KEY
from policies.failures import (
    UNCLASSIFIED,
    Classification,
    FailureClass,
    RunFailure,
    StepFailure,
    classify,
    read_description,
)

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._utils.error import SerializableErrorInfo

_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Attempt:
    step: str
    attempt: int
    failure_class: FailureClass
    retryable: bool
    final: bool  # the step's last failure (not followed by a retry)
    message: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "attempt": self.attempt,
            "class": self.failure_class.value,
            "retryable": self.retryable,
            "final": self.final,
            "message": self.message,
            "at": self.at,
        }


def classify_error(info: SerializableErrorInfo | None) -> tuple[Classification, str]:
    """The class a step wrote at the head of its failure, else what the policy makes of it."""
    chain = list(error_chain(info))
    if not chain:
        return UNCLASSIFIED, "no error was recorded"
    for err in chain:
        found = read_description(err.message)
        if found is not None:
            return found, _described_text(err.message)
    for err in chain:
        found = classify(facts_from_error_info(err))
        if found.failure_class != FailureClass.UNCLASSIFIED:
            return found, _first_line(err.message)
    return UNCLASSIFIED, _first_line(chain[0].message)


def _described_text(text: str) -> str:
    """The step's own words, after its ``[CLASS] (retryable)`` head."""
    line = _first_line(text)
    for head in ("] (retryable) ", "] (not retried) "):
        at = line.find(head)
        if at >= 0:
            return line[at + len(head) :]
    return line


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "")[:_MESSAGE_LIMIT]


def _from_metadata(data: Any) -> Classification | None:
    user = getattr(data, "user_failure_data", None)
    meta = getattr(user, "metadata", None) or {}
    raw_class = getattr(meta.get(CLASS_KEY), "value", None)
    if not isinstance(raw_class, str) or raw_class not in FailureClass.__members__:
        return None
    retryable = bool(getattr(meta.get(RETRYABLE_KEY), "value", False))
    return Classification(FailureClass(raw_class), retryable, "step_metadata", "from the step")


def attempts(instance: DagsterInstance, run_id: str) -> list[Attempt]:
    """Every failed attempt of every step, in order."""
    records = instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_UP_FOR_RETRY, DagsterEventType.STEP_FAILURE}
    )
    counts: Counter[str] = Counter()
    out: list[Attempt] = []
    for record in records:
        event = record.get_dagster_event()
        step = event.step_key or "?"
        counts[step] += 1
        data = event.event_specific_data
        found = _from_metadata(data) if event.is_step_failure else None
        described, message = classify_error(getattr(data, "error", None))
        if found is None:
            found = described
        description = getattr(getattr(data, "user_failure_data", None), "description", None)
        if description:
            message = _first_line(str(description))
        out.append(
            Attempt(
                step=step,
                attempt=counts[step],
                failure_class=found.failure_class,
                retryable=found.retryable,
                final=event.is_step_failure,
                message=message,
                at=record.timestamp,
            )
        )
    return out


def run_failure(instance: DagsterInstance, run: DagsterRun, will_retry: bool) -> RunFailure:
    """The failed run as the dead-letter rule sees it."""
    history = attempts(instance, run.run_id)
    tries = Counter(a.step for a in history)
    steps = tuple(
        StepFailure(a.step, a.failure_class, a.retryable, tries[a.step], a.message)
        for a in history
        if a.final
    )
    outside = None
    if not steps:
        failures = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        info = None
        if failures:
            event = failures[-1].get_dagster_event()
            info = getattr(event.event_specific_data, "error", None)
        outside, _ = classify_error(info)
    return RunFailure(run.run_id, steps, will_retry, outside)
