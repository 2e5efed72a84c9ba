"""Whether a previewed query may run now: its preview still binds, its cost fits, it is approved.

A preview id binds the SQL, the caller and the versions it resolved; it expires, and any state
change of a table it reads (a promotion, a rollback) voids it. A query over the per-query byte
cap waits for an approval; the organisation's hourly budget is a sliding window, and a query
that would overrun it is refused with what is left and how to narrow it. Clock readings and
usage sums are facts the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.decisions import Decision, combine_all
from policies.query_cost import size

BUDGET_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class RunFacts:
    preview_id: str
    now: datetime
    expires_at: datetime
    previewed_by: str
    caller: str
    bound_tables: Mapping[str, int]  # table -> its catalog row version when previewed
    current_tables: Mapping[str, int | None]  # table -> row version now (None: gone)
    needs_approval: bool
    approved_by: str | None
    estimated_bytes: int | None
    max_query_bytes: int
    hourly_budget_bytes: int
    used_in_window: int  # bytes the organisation scanned in the last hour
    executed: bool = False
    approval_rules: Sequence[str] = field(default_factory=tuple)


def used_in_window(usage: Sequence[tuple[datetime, int]], now: datetime) -> int:
    """Bytes scanned in the hour before ``now``; an entry exactly an hour old has left it."""
    start = now - BUDGET_WINDOW
    return sum(bytes_ for at, bytes_ in usage if start < at <= now)


def preview_not_expired(f: RunFacts) -> Decision:
    if f.now < f.expires_at:
        return Decision.allow()
    return Decision.block(
        "preview_expired",
        f"preview {f.preview_id} expired at {f.expires_at.isoformat(timespec='seconds')}; "
        "preview the query again",
        preview_id=f.preview_id,
        expired_at=f.expires_at.isoformat(),
    )


def preview_same_caller(f: RunFacts) -> Decision:
    if f.caller == f.previewed_by:
        return Decision.allow()
    return Decision.block(
        "preview_caller",
        f"preview {f.preview_id} was made by {f.previewed_by}; only they may execute it. "
        "Preview the query yourself",
        preview_id=f.preview_id,
        previewed_by=f.previewed_by,
    )


def preview_tables_unchanged(f: RunFacts) -> Decision:
    changed = sorted(t for t, v in f.bound_tables.items() if f.current_tables.get(t) != v)
    if not changed:
        return Decision.allow()
    return Decision.block(
        "preview_stale",
        f"{', '.join(changed)} changed since preview {f.preview_id} (promoted, rolled back or "
        "deprecated): the versions it resolved are no longer what those names show. Preview the "
        "query again",
        preview_id=f.preview_id,
        tables=changed,
    )


def preview_not_used(f: RunFacts) -> Decision:
    if not f.executed:
        return Decision.allow()
    return Decision.block(
        "preview_used",
        f"preview {f.preview_id} was already executed; preview the query again to run it again",
        preview_id=f.preview_id,
    )


def within_budget(f: RunFacts) -> Decision:
    scan = f.estimated_bytes or 0
    left = max(0, f.hourly_budget_bytes - f.used_in_window)
    if scan <= left:
        return Decision.allow()
    return Decision.block(
        "budget",
        f"the organisation has {size(left)} left of its hourly budget of "
        f"{size(f.hourly_budget_bytes)} and this query would scan {size(scan)}; narrow it (a "
        "time filter, fewer columns, a smaller date range) or wait for the window to move",
        estimated_bytes=scan,
        remaining_bytes=left,
        hourly_budget_bytes=f.hourly_budget_bytes,
    )


def approved_if_needed(f: RunFacts) -> Decision:
    over_cap = (f.estimated_bytes or 0) > f.max_query_bytes
    if not (over_cap or f.needs_approval) or f.approved_by:
        return Decision.allow()
    why = []
    if over_cap:
        why.append(
            f"it would scan {size(f.estimated_bytes or 0)}, over the per-query cap of "
            f"{size(f.max_query_bytes)}"
        )
    if f.approval_rules:
        why.append(f"its preview needs approval ({', '.join(f.approval_rules)})")
    return Decision.require_approval(
        "approval",
        f"preview {f.preview_id} cannot run yet: {'; '.join(why) or 'it needs approval'}. An "
        f"engineer or admin approves it with `spyne query approve {f.preview_id} --reason ...`",
        preview_id=f.preview_id,
        estimated_bytes=f.estimated_bytes,
        max_query_bytes=f.max_query_bytes,
        rules=list(f.approval_rules),
    )


RUN_RULES: tuple[Callable[[RunFacts], Decision], ...] = (
    preview_not_expired,
    preview_same_caller,
    preview_not_used,
    preview_tables_unchanged,
    within_budget,
    approved_if_needed,
)


def decide_run(facts: RunFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in RUN_RULES))


def cost_of(bytes_: int | None, price_per_tb: float) -> float | None:
    """What a scan costs at ``price_per_tb`` per TB (10^12 bytes), as BigQuery bills."""
    return None if bytes_ is None else round(bytes_ / 1e12 * price_per_tb, 6)
