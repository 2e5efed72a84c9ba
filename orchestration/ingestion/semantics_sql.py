"""A contract's ingestion semantics as SQL, built once with sqlglot and rendered per dialect.

Given a landed batch (a relation with at least the contract's columns; landing columns such as
dlt's are ignored), the previous bronze version (the contract's columns plus the processing-time
column, or None for a first load) and the time of this load, :func:`plan_batch` builds:

- ``conflicts`` (``conflict_resolution: error`` only): one row per key and event time holding
  different rows, counting them. Run it first; rows mean the batch is refused
  (:func:`refuse_conflicts`) and nothing is written.
- ``accepted``: the batch rows that enter bronze, stamped with the load time.
- ``new_content``: the whole new bronze version (previous rows not replaced, plus ``accepted``).
- ``merge``: the same change as one statement on a copy of the previous version (a BigQuery
  clone, a DuckDB segment): ``MERGE`` for upsert, ``INSERT`` for append.

The semantics, exactly (the tests hold the SQL to a plain Python model of them):

- Exact repeats inside a batch collapse first (``SELECT DISTINCT`` over the contract's columns).
- upsert: per key, the row with the latest event time wins; equal event times are broken by the
  other columns in contract order, greatest first, nulls last, and a row bronze already holds
  wins a full tie (a redelivery changes nothing, not even its processing time).
- append: a batch row is a repeat when bronze holds a row of its key less than the dedupe window
  away in event time, or when the previous batch row of its key (event time ascending, ties as
  above) is less than the window before it; otherwise it is a new event.
- conflict: two different rows of one key at one event time (in the batch, or the batch and
  bronze). ``latest_wins`` breaks the tie as above; ``error`` refuses the batch.
- The processing-time column is set to the load time for accepted rows and is never read as an
  event time, never ordered on, never compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from policies.contracts import ConflictResolution, Contract, IngestMode
from policies.errors import IngestConflict

PRIOR = "_spyne_prior"
RANK = "_spyne_rank"
PREVIOUS_EVENT = "_spyne_previous_event"
VERSIONS = "versions"
CONFLICTS_SHOWN = 20


@dataclass(frozen=True)
class Semantics:
    """What the SQL needs from a contract (build it with :meth:`of`)."""

    contract_id: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    event_time: str
    processing_time: str
    mode: IngestMode
    window: timedelta | None
    conflict_resolution: ConflictResolution

    @classmethod
    def of(cls, contract: Contract) -> Semantics:
        s = contract.semantics
        return cls(
            contract.id,
            contract.column_names,
            s.idempotency_key,
            s.event_time_column,
            s.processing_time_column,
            s.mode,
            s.dedupe_window,
            s.conflict_resolution,
        )

    @property
    def tie_break(self) -> tuple[str, ...]:
        """Columns that order rows of one key and event time: the rest, in contract order."""
        return tuple(c for c in self.columns if c not in self.key and c != self.event_time)


@dataclass(frozen=True)
class BatchPlan:
    conflicts: exp.Select | None
    accepted: exp.Select
    new_content: exp.Select
    merge: exp.Expression

    def sql(self, dialect: str) -> dict[str, str | None]:
        return {
            "conflicts": None if self.conflicts is None else self.conflicts.sql(dialect),
            "accepted": self.accepted.sql(dialect),
            "new_content": self.new_content.sql(dialect),
            "merge": self.merge.sql(dialect),
        }


def relation(name: str, schema: str | None = None, project: str | None = None) -> exp.Table:
    """A quoted table reference (``project.schema.name`` on BigQuery)."""
    return exp.table_(name, db=schema, catalog=project, quoted=True)


def plan_batch(
    s: Semantics,
    batch: exp.Table | exp.Subquery,
    previous: exp.Table | None,
    loaded_at: datetime,
    target: exp.Table | None = None,
) -> BatchPlan:
    """Every statement one load needs; ``target`` (for ``merge``) is a copy of ``previous``."""
    stamp = exp.cast(exp.Literal.string(loaded_at.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")
    prev = previous if previous is not None else _empty(s)
    accepted = _upsert(s, prev, stamp) if s.mode is IngestMode.UPSERT else _append(s, prev, stamp)
    # Upsert's ranking already keeps one of identical rows: DISTINCT would only add a hash pass.
    rows = _batch_rows(s, batch, distinct=s.mode is IngestMode.APPEND)
    accepted = accepted.with_("b", as_=rows)
    conflicts = (
        _conflicts(s, prev).with_("b", as_=_batch_rows(s, batch, distinct=True))
        if s.conflict_resolution is ConflictResolution.ERROR
        else None
    )
    return BatchPlan(
        conflicts,
        accepted,
        _new_content(s, prev, accepted),
        _merge(s, target or relation("target"), accepted),
    )


def refuse_conflicts(s: Semantics, rows: Sequence[Sequence[Any]]) -> None:
    """Refuse a batch whose conflicts query returned rows (key columns, event time, versions)."""
    if not rows:
        return
    n = len(s.key)
    keys = [
        {**dict(zip(s.key, row[:n], strict=True)), s.event_time: row[n], VERSIONS: row[n + 1]}
        for row in rows[:CONFLICTS_SHOWN]
    ]
    shown = "; ".join(
        ", ".join(f"{k}={row[i]!r}" for i, k in enumerate(s.key)) + f" at {row[n]}"
        for row in rows[:5]
    )
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise IngestConflict(
        f"contract {s.contract_id}: the batch holds different rows for one key at one event time "
        f"({shown}{more}); conflict_resolution is error, so nothing was written. Fix the rows at "
        "the source and load again, or set conflict_resolution: latest_wins in a new contract version",
        details={"contract": s.contract_id, "conflicts": len(rows), "keys": keys},
    )


# -- builders -------------------------------------------------------------------------------------


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _cols(names: Sequence[str], table: str | None = None) -> list[exp.Column]:
    return [_col(n, table) for n in names]


def _window(s: Semantics) -> exp.Interval:
    assert s.window is not None  # the contract rules require it for append
    # The quoted spelling is the one both dialects parse back unchanged.
    seconds = exp.Literal.string(str(int(s.window.total_seconds())))
    return exp.Interval(this=seconds, unit=exp.var("SECOND"))


def _order(s: Semantics, event_desc: bool) -> list[exp.Ordered]:
    return [
        exp.Ordered(this=_col(s.event_time), desc=event_desc, nulls_first=not event_desc),
        *(exp.Ordered(this=_col(c), desc=True, nulls_first=False) for c in s.tie_break),
    ]


def _same_key(s: Semantics, left: str, right: str) -> exp.Condition:
    """Null-safe: append without a key compares whole rows, whose columns may be null."""
    return exp.and_(*(exp.NullSafeEQ(this=_col(k, left), expression=_col(k, right)) for k in s.key))


def _batch_rows(s: Semantics, batch: exp.Table | exp.Subquery, distinct: bool) -> exp.Select:
    rows = exp.select(*_cols(s.columns)).from_(batch.copy())
    return rows.distinct() if distinct else rows


def _empty(s: Semantics) -> exp.Subquery:
    """No previous version: a relation with bronze's columns and no rows (types from the batch)."""
    stamp = exp.cast(exp.null(), "TIMESTAMP").as_(s.processing_time, quoted=True)
    return (
        exp.select(*_cols(s.columns), stamp)
        .from_(exp.to_identifier("b"))
        .where(exp.false())
        .subquery("previous_empty")
    )


def _stamped(s: Semantics, source: exp.Expression, stamp: exp.Expression) -> exp.Select:
    return exp.select(*_cols(s.columns), stamp.copy().as_(s.processing_time, quoted=True)).from_(
        source
    )


def _upsert(s: Semantics, prev: exp.Expression, stamp: exp.Expression) -> exp.Select:
    matched = exp.Exists(
        this=exp.select(exp.Literal.number(1)).from_("b").where(_same_key(s, "b", "p"))
    )
    candidates = exp.union(
        exp.select(*_cols(s.columns), exp.Literal.number(0).as_(PRIOR)).from_("b"),
        exp.select(*_cols(s.columns, "p"), exp.Literal.number(1).as_(PRIOR))
        .from_(_as(prev, "p"))
        .where(matched),
        distinct=False,
    )
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=_cols(s.key),
        order=exp.Order(
            expressions=[*_order(s, event_desc=True), exp.Ordered(this=_col(PRIOR), desc=True)]
        ),
    )
    ranked = exp.select(*_cols(s.columns), _col(PRIOR), rank.as_(RANK)).from_(
        candidates.subquery("c")
    )
    first = exp.EQ(this=_col(RANK), expression=exp.Literal.number(1))
    from_batch = exp.EQ(this=_col(PRIOR), expression=exp.Literal.number(0))
    return _stamped(s, ranked.subquery("r"), stamp).where(exp.and_(first, from_batch))


def _append(s: Semantics, prev: exp.Expression, stamp: exp.Expression) -> exp.Select:
    """Append: a delivered row enters unless bronze holds the same key within the dedupe window
    of its event time, or the batch delivered the same key less than a window before it.

    The batch's own chain runs over every row it delivered, entered or not, so delivering the
    same batch again finds each row either in bronze or behind the same predecessor: it changes
    nothing.
    """
    previous_event = exp.Window(
        this=exp.Lag(this=_col(s.event_time)),
        partition_by=_cols(s.key),
        order=exp.Order(expressions=_order(s, event_desc=False)),
    )
    ordered = exp.select(*_cols(s.columns), previous_event.as_(PREVIOUS_EVENT)).from_("b")
    t_b, t_p = _col(s.event_time, "o"), _col(s.event_time, "p")
    near = exp.and_(
        _same_key(s, "o", "p"),
        exp.GT(this=t_p, expression=exp.Sub(this=t_b.copy(), expression=_window(s))),
        exp.LT(this=t_p.copy(), expression=exp.Add(this=t_b.copy(), expression=_window(s))),
    )
    apart = exp.or_(
        exp.Is(this=_col(PREVIOUS_EVENT, "o"), expression=exp.null()),
        exp.LTE(
            this=exp.Add(this=_col(PREVIOUS_EVENT, "o"), expression=_window(s)),
            expression=t_b.copy(),
        ),
    )
    not_in_bronze = exp.not_(
        exp.Exists(this=exp.select(exp.Literal.number(1)).from_(_as(prev, "p")).where(near))
    )
    return _stamped(s, ordered.subquery("o"), stamp).where(exp.and_(apart, not_in_bronze))


def _conflicts(s: Semantics, prev: exp.Expression) -> exp.Select:
    same_time = exp.and_(
        _same_key(s, "b", "p"),
        exp.EQ(this=_col(s.event_time, "b"), expression=_col(s.event_time, "p")),
    )
    source = _as(prev, "p")
    rows = exp.union(
        exp.select(*_cols(s.columns)).from_("b"),
        exp.select(*_cols(s.columns, "p"))
        .from_(source)
        .where(exp.Exists(this=exp.select(exp.Literal.number(1)).from_("b").where(same_time))),
        distinct=True,
    )
    group = [*_cols(s.key), _col(s.event_time)]
    return (
        exp.select(*group, exp.Count(this=exp.Star()).as_(VERSIONS))
        .from_(rows.subquery("u"))
        .group_by(*group)
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        .order_by(*[g.copy() for g in group])
    )


def _new_content(s: Semantics, prev: exp.Expression, accepted: exp.Select) -> exp.Select:
    bronze = [*s.columns, s.processing_time]
    source = _as(prev, "p")
    kept = exp.select(*_cols(bronze, "p")).from_(source)
    if s.mode is IngestMode.UPSERT:
        replaced = exp.select(exp.Literal.number(1)).from_(exp.to_table("a").as_("a"))
        kept = kept.where(exp.not_(exp.Exists(this=replaced.where(_same_key(s, "a", "p")))))
    body = exp.union(kept, exp.select(*_cols(bronze)).from_("a"), distinct=False)
    # The batch's CTEs move up beside ``a``: the empty stand-in for a first load reads ``b`` too.
    inner = accepted.copy()
    ctes = inner.args.get("with_")
    inner.set("with_", None)
    out = exp.select(exp.Star()).from_(body.subquery("n"))
    for cte in ctes.expressions if ctes is not None else []:
        out = out.with_(cte.alias, as_=cte.this.copy())
    return out.with_("a", as_=inner)


def _merge(s: Semantics, target: exp.Table, accepted: exp.Select) -> exp.Expression:
    bronze = [*s.columns, s.processing_time]
    if s.mode is IngestMode.APPEND:
        return exp.insert(
            accepted.copy(),
            target.copy(),
            columns=[exp.to_identifier(c, quoted=True) for c in bronze],
        )
    on = _same_key(s, "target", "s")
    update = exp.When(
        matched=True,
        then=exp.Update(
            expressions=[
                exp.EQ(this=_col(c), expression=_col(c, "s")) for c in bronze if c not in s.key
            ]
        ),
    )
    insert = exp.When(
        matched=False,
        then=exp.Insert(
            this=exp.Tuple(expressions=_cols(bronze)),
            expression=exp.Tuple(expressions=_cols(bronze, "s")),
        ),
    )
    return exp.Merge(
        this=target.copy().as_("target"),
        using=accepted.copy().subquery("s"),
        on=on,
        whens=exp.Whens(expressions=[update, insert]),
    )


def _as(prev: exp.Expression, alias: str) -> exp.Expr:
    """The previous version (a table, or the empty stand-in subquery) under ``alias``."""
    if isinstance(prev, exp.Table):
        return exp.alias_(prev.copy(), alias, table=True)
    inner = prev.this if isinstance(prev, exp.Subquery) else prev
    return exp.Subquery(this=inner.copy(), alias=exp.TableAlias(this=exp.to_identifier(alias)))
