"""What a gate demands of a candidate version, and when its verdict is "failed".

A gate that only asks for "at least one row" lets a source that suddenly emptied out be
published as if nothing happened. So a candidate must also keep most of the rows of the
version it would replace: at most ``max_row_drop`` (a fraction, from the publishing
policy) fewer rows than the ACTIVE version. The Great Expectations suite carries that
minimum as a parameter; this module computes it.

The verdict combines the suite's outcome with the dbt tests of the same table: a test that
failed or errored blocks publication even when every expectation passed, because dbt's
tests are checks people wrote for exactly this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from policies.decisions import Decision, combine_all
from policies.errors import ValidationFailed

# --- the row-count floor ----------------------------------------------------------------------


def check_max_row_drop(value: Any, field: str = "max_row_drop") -> float:
    """``value`` as a fraction in [0, 1]; anything else is refused, naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(
            f"{field} must be a number between 0 and 1 (0.5 allows half the rows to go), "
            f"got {value!r}",
            details={"field": field, "value": repr(value)},
        )
    if not 0 <= value <= 1:  # also refuses NaN, which compares false to everything
        raise ValidationFailed(
            f"{field} must be between 0 and 1 (0 allows no drop, 1 any drop), got {value!r}",
            details={"field": field, "value": repr(value)},
        )
    return float(value)


def minimum_row_count(active_row_count: int | None, max_row_drop: float) -> int:
    """The fewest rows a candidate may have: the ACTIVE version's, less the allowed drop.

    ``None`` (no ACTIVE version yet: a first version) leaves the candidate unlimited, as
    does an ACTIVE version with no rows. The allowed drop is inclusive: with 1,000 active
    rows and 0.5, 500 rows pass and 499 fail. The fraction is taken as the decimal a
    person wrote (0.7, not its binary neighbour), so the floor never moves by a row
    because of float rounding.
    """
    drop = Fraction(repr(check_max_row_drop(max_row_drop)))
    if active_row_count is None:
        return 0
    if isinstance(active_row_count, bool) or not isinstance(active_row_count, int):
        raise ValidationFailed(
            f"the ACTIVE version's row count must be a whole number, got {active_row_count!r}",
            details={"field": "active_row_count", "value": repr(active_row_count)},
        )
    if active_row_count < 0:
        raise ValidationFailed(
            f"the ACTIVE version's row count cannot be negative, got {active_row_count}",
            details={"field": "active_row_count", "value": active_row_count},
        )
    return math.ceil(active_row_count * (1 - drop))


# --- the verdict --------------------------------------------------------------------------------


class DbtTestStatus(StrEnum):
    """dbt's own result statuses for a test node."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    WARN = "warn"
    SKIPPED = "skipped"

    @property
    def blocking(self) -> bool:
        return self in (DbtTestStatus.FAIL, DbtTestStatus.ERROR)


@dataclass(frozen=True)
class DbtTestResult:
    """One dbt test run on the candidate version: its name, status and dbt's message."""

    name: str
    status: DbtTestStatus
    message: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DbtTestResult:
        """From ``{"name", "status", "message"}``; an unknown status is refused, not ignored."""
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                f"a dbt test result must be a mapping with name, status and message, got "
                f"{type(data).__name__}",
                details={"field": "dbt_tests"},
            )
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationFailed(
                f"a dbt test result needs a non-empty name, got {name!r}",
                details={"field": "name", "value": repr(name)},
            )
        raw = data.get("status")
        try:
            status = DbtTestStatus(str(raw).lower()) if isinstance(raw, str) else None
        except ValueError:
            status = None
        if status is None:
            allowed = ", ".join(s.value for s in DbtTestStatus)
            raise ValidationFailed(
                f"dbt test {name} has status {raw!r}; expected one of {allowed}",
                details={"field": "status", "test": name, "value": repr(raw)},
            )
        message = data.get("message")
        return cls(name.strip(), status, None if message is None else str(message))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "message": self.message}


@dataclass(frozen=True)
class GateFacts:
    """What the gate found: the suite's verdict (and its summary) and the table's dbt tests."""

    table: str
    version: int
    expectations_passed: bool
    expectations_message: str | None
    dbt_tests: tuple[DbtTestResult, ...] = ()

    @property
    def subject(self) -> str:
        return f"{self.table} v{self.version}"

    @property
    def failing_tests(self) -> tuple[DbtTestResult, ...]:
        return tuple(t for t in self.dbt_tests if t.status.blocking)


def gate_expectations(facts: GateFacts) -> Decision:
    if facts.expectations_passed:
        return Decision.allow()
    return Decision.block(
        "expectations",
        f"{facts.subject} failed its expectations: "
        f"{facts.expectations_message or 'see the gate result'}",
        table=facts.table,
        version=facts.version,
    )


def gate_dbt_tests(facts: GateFacts) -> Decision:
    failing = facts.failing_tests
    if not failing:
        return Decision.allow()
    listed = ", ".join(
        f"{t.name} ({t.status.value}{': ' + _first_line(t.message) if t.message else ''})"
        for t in failing
    )
    return Decision.block(
        "dbt_tests",
        f"{facts.subject} failed {len(failing)} dbt test{'s' if len(failing) != 1 else ''}: "
        f"{listed}",
        table=facts.table,
        version=facts.version,
        dbt_failures=[t.name for t in failing],
    )


GATE_RULES: tuple[Callable[[GateFacts], Decision], ...] = (gate_expectations, gate_dbt_tests)


def decide_gate(facts: GateFacts) -> Decision:
    """Passed only when every rule allows; a refusal lists every reason at once."""
    return combine_all(tuple(rule(facts) for rule in GATE_RULES))


def dbt_test_results(tests: Sequence[Mapping[str, Any]]) -> tuple[DbtTestResult, ...]:
    return tuple(DbtTestResult.from_mapping(t) for t in tests)


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else stripped
