"""How much a warehouse query may scan: its dry-run estimate against the configured byte cap.

A metered warehouse (BigQuery) bills by bytes scanned. Before any query runs, Spyne asks the
warehouse what it would scan (a dry run); these rules say whether it may then run. A query the
warehouse could not estimate is refused too: a cap that cannot be checked is no cap. Statements
that scan nothing (DDL) may come back without an estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.decisions import Decision, combine_all

CAP_VARIABLE = "SPYNE_BQ_MAX_BYTES"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@dataclass(frozen=True)
class CostFacts:
    action: str  # what Spyne was doing: manifest, point_view, profile, ...
    scans_data: bool  # a query (SELECT, CREATE ... AS SELECT); False for DDL that reads nothing
    estimated_bytes: int | None  # the dry run's answer; None when it gave none
    max_bytes: int
    table: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.action} of {self.table}" if self.table else self.action


def size(n: int) -> str:
    """Bytes for people: 1536 -> '1.5 KiB'."""
    value = float(n)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def cost_estimated(facts: CostFacts) -> Decision:
    if facts.estimated_bytes is not None or not facts.scans_data:
        return Decision.allow()
    return Decision.block(
        "cost",
        f"{facts.subject}: the warehouse's dry run gave no estimate of the bytes it would scan, "
        f"so it cannot be held to the {size(facts.max_bytes)} cap; nothing was run",
        action=facts.action,
        table=facts.table,
        estimated_bytes=None,
        max_bytes=facts.max_bytes,
    )


def cost_within_cap(facts: CostFacts) -> Decision:
    scanned = facts.estimated_bytes or 0
    if scanned <= facts.max_bytes:
        return Decision.allow()
    return Decision.block(
        "cost",
        f"{facts.subject} would scan {size(scanned)}, more than the cap of "
        f"{size(facts.max_bytes)}; nothing was run. Narrow the query, or raise {CAP_VARIABLE} "
        "if this scan is expected",
        action=facts.action,
        table=facts.table,
        estimated_bytes=scanned,
        max_bytes=facts.max_bytes,
        variable=CAP_VARIABLE,
    )


COST_RULES: tuple[Callable[[CostFacts], Decision], ...] = (cost_estimated, cost_within_cap)


def decide_query_cost(facts: CostFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in COST_RULES))
