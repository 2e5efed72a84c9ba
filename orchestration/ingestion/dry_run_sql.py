"""What a replay or backfill would do, without doing it: the SQL of its dry run.

The dry run applies the contract's semantics (:mod:`orchestration.ingestion.semantics_sql`) to
the rows of the time range, exactly as the real run will, and only counts and previews: how many
rows were delivered, how many would enter bronze, how many dedupe drops (repeats within the
window, or older versions than bronze holds), and the first rows that would enter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from orchestration.ingestion.semantics_sql import Semantics, plan_batch

DELIVERED = "delivered"
ACCEPTED = "accepted"
DROPPED = "dropped"


@dataclass(frozen=True)
class DryRunQueries:
    counts: exp.Select  # one row: delivered, accepted, dropped
    preview: exp.Select  # the first rows that would enter bronze, by key and event time


def _stamp(value: datetime) -> exp.Expression:
    return exp.cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")


def in_range(s: Semantics, batch: exp.Table, start: datetime, end: datetime) -> exp.Subquery:
    """The batch rows whose event time is in [start, end): what a replay of that range loads."""
    t = exp.column(s.event_time, quoted=True)
    ranged = (
        exp.select(exp.Star())
        .from_(batch.copy())
        .where(
            exp.and_(
                exp.GTE(this=t, expression=_stamp(start)),
                exp.LT(this=t.copy(), expression=_stamp(end)),
            )
        )
    )
    return ranged.subquery("ranged")


def dry_run_queries(
    s: Semantics,
    batch: exp.Table,
    previous: exp.Table | None,
    loaded_at: datetime,
    start: datetime,
    end: datetime,
    preview_rows: int = 10,
) -> DryRunQueries:
    ranged = in_range(s, batch, start, end)
    accepted = plan_batch(s, ranged, previous, loaded_at).accepted
    delivered = exp.select(exp.Count(this=exp.Star())).from_(ranged.copy()).subquery()
    entering = (
        exp.select(exp.Count(this=exp.Star())).from_(accepted.copy().subquery("a")).subquery()
    )
    counts = exp.select(
        delivered.as_(DELIVERED),
        entering.as_(ACCEPTED),
        exp.Sub(this=delivered.copy(), expression=entering.copy()).as_(DROPPED),
    )
    order = [exp.column(c, quoted=True) for c in (*s.key, s.event_time)]
    preview = (
        exp.select(exp.Star())
        .from_(accepted.copy().subquery("a"))
        .order_by(*order)
        .limit(preview_rows)
    )
    return DryRunQueries(counts, preview)
