"""What a gate run found, in the shape the catalog stores, the CLI prints and Dagster shows.

Kept apart from running Great Expectations (``runner``): the runner produces these, while
the table gate, the CLI and the Dagster check read, combine and word them, and a failure
is worded the same way wherever it appears (:func:`failure_summary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestration.jsonable import json_safe
from policies.errors import SpyneError
from policies.gates import DbtTestResult

CRITICAL = "critical"
# The kwargs that bound an observed value; a failure names them so a person sees the limit.
BOUND_KEYS = ("min_value", "max_value")

Missing = Literal["warehouse", "table"]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, reduced to what a person needs to act on it.

    ``unexpected_count`` counts offending rows (nulls, out-of-set values, rows whose value
    is duplicated); None when the expectation is about the table, not rows. ``expected``
    holds the bounds the observed value was held to (suite parameters resolved).
    """

    expectation_type: str
    column: str | None
    success: bool
    observed_value: Any
    unexpected_count: int | None
    severity: str = CRITICAL
    message: str | None = None
    expected: Mapping[str, Any] | None = None

    @property
    def blocking(self) -> bool:
        """A failed critical check blocks; so does any check that could not be evaluated."""
        return not self.success and (self.severity == CRITICAL or self.message is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation_type": self.expectation_type,
            "column": self.column,
            "success": self.success,
            "observed_value": json_safe(self.observed_value),
            "unexpected_count": self.unexpected_count,
            "severity": self.severity,
            "message": self.message,
            "expected": json_safe(self.expected),
        }


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate run on ``schema.table``; ``success`` decides publication.

    ``missing`` says the gate could not look at the data at all (no warehouse file, no
    table), and ``refusal`` that it was refused on the way (a query over the byte cap): such a
    result must never be recorded as a verdict on a version.
    """

    success: bool
    evaluated: int
    failed: int
    results: tuple[ExpectationOutcome, ...]
    duration_seconds: float
    schema: str = ""
    table: str = ""
    suite_name: str = ""
    message: str | None = None
    data_docs_index: str | None = None
    dbt_tests: tuple[DbtTestResult, ...] = ()
    missing: Missing | None = None
    refusal: SpyneError | None = field(default=None, compare=False)
    failures: tuple[ExpectationOutcome, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(r for r in self.results if not r.success))

    @property
    def dbt_failures(self) -> tuple[DbtTestResult, ...]:
        return tuple(t for t in self.dbt_tests if t.status.blocking)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": self.failed,
            "results": [r.to_dict() for r in self.results],
            "duration_seconds": round(self.duration_seconds, 6),
            "schema": self.schema,
            "table": self.table,
            "suite_name": self.suite_name,
            "message": self.message,
            "data_docs_index": self.data_docs_index,
            "dbt_tests": [t.to_dict() for t in self.dbt_tests],
            "dbt_failures": [t.name for t in self.dbt_failures],
        }


def failure_summary(outcomes: Sequence[ExpectationOutcome]) -> str:
    """One clause per failed expectation: what, on which column, and by how much."""
    parts = []
    for o in outcomes:
        if o.success:
            continue
        target = f"{o.column}: " if o.column else ""
        if o.message:
            detail = o.message
        elif o.unexpected_count:
            detail = f"{o.unexpected_count} unexpected rows"
        else:
            detail = f"observed {json_safe(o.observed_value)!r}"
            limit = expected_text(o.expected)
            if limit:
                detail = f"{detail}, {limit}"
        blocking = "" if o.blocking else f" ({o.severity}, not blocking)"
        parts.append(f"{target}{o.expectation_type} failed, {detail}{blocking}")
    return "; ".join(parts)


def expected_text(expected: Mapping[str, Any] | None) -> str:
    """``expected at least 500`` / ``at most 9`` / ``between 1 and 9``; empty without bounds."""
    low = (expected or {}).get("min_value")
    high = (expected or {}).get("max_value")
    if low is not None and high is not None:
        return f"expected between {json_safe(low)!r} and {json_safe(high)!r}"
    if low is not None:
        return f"expected at least {json_safe(low)!r}"
    if high is not None:
        return f"expected at most {json_safe(high)!r}"
    return ""


def first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else text


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
