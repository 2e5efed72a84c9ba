"""Column profiles and join validation computed in the warehouse: statements and their reading.

A table is profiled in at most three scans, whatever its width: one aggregate for every
column's counts and range, one for the value sketches of its key-like columns (a coordinated
hash sample: the distinct hashes below each column's share of the hash space), and, for a table
without a single unique column, one counting distinct pairs of its likely key columns. Only
aggregates come back; rows never leave the warehouse. Joins are validated the same way: one
query for the counts (nulls, orphans, fan-out, both sides' duplicates) and one for a few
sample joined rows.

DuckDB hashes with ``hash`` (unsigned 64-bit), BigQuery with ``FARM_FINGERPRINT`` (signed,
shifted into the unsigned range when read), so sketches compare within one warehouse kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import combinations

from sqlglot import exp

from orchestration.warehouse.statements import Dialect, Statements
from policies.drift import Column
from policies.joins.names import key_named
from policies.joins.profiles import (
    HASH_SPACE,
    KEY_FAMILIES,
    ColumnProfile,
    Sketch,
    TableProfile,
    TypeFamily,
    sketch_rate,
    type_family,
)
from policies.joins.risk import JoinStats

SIGNED_OFFSET = 2**63  # BigQuery's fingerprints are signed
MAX_COMPOSITE_COLUMNS = 6  # likely key columns tried in pairs for a two-column key
SAMPLE_COLUMNS = 3  # columns of each side shown in a sample joined row
ORDERED = frozenset(
    {
        TypeFamily.INTEGER,
        TypeFamily.STRING,
        TypeFamily.DECIMAL,
        TypeFamily.FLOAT,
        TypeFamily.DATE,
        TypeFamily.TIMESTAMP,
    }
)

Rows = list[tuple[object, ...]]
Runner = Callable[[exp.Query], Rows]


# Types built once: parsing a type name on every column is most of a statement's build time.
_TYPES = {
    name: exp.DataType.build(name, dialect=dialect)
    for name, dialect in (
        ("STRING", "bigquery"),
        ("BIGINT", "duckdb"),
        ("VARCHAR", "duckdb"),
        ("UBIGINT", "duckdb"),
    )
}


def _c(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _alias(expression: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expression, name, quoted=False)


def _num(value: int | float) -> exp.Expr:
    return exp.Literal.number(value)


def _count_all() -> exp.Expr:
    return exp.func("count", exp.Star())


@dataclass(frozen=True)
class ProfileStatements:
    """The profiling and validation statements of one dialect."""

    st: Statements

    @property
    def bigquery(self) -> bool:
        return self.st.dialect == Dialect.BIGQUERY

    def _hash(self, column: Column) -> exp.Expr:
        """A value's 64-bit hash; integers of any width hash alike, strings as text."""
        if self.bigquery:
            text = exp.Cast(this=_c(column.name), to=_TYPES["STRING"].copy())
            return exp.FarmFingerprint(expressions=[text])
        family = type_family(column.data_type)
        target = _TYPES["BIGINT" if family == TypeFamily.INTEGER else "VARCHAR"]
        return exp.Anonymous(
            this="hash", expressions=[exp.Cast(this=_c(column.name), to=target.copy())]
        )

    def column_stats(
        self, table: exp.Table, columns: Sequence[Column], exact: Sequence[bool]
    ) -> exp.Select:
        """Row count, then per column: non-null count, distinct count (exact or not), min, max."""
        out: list[exp.Expr] = [_alias(_count_all(), "row_count")]
        for i, column in enumerate(columns):
            value = _c(column.name)
            family = type_family(column.data_type)
            distinct: exp.Expr = (
                exp.null()  # only key-like columns need it, and counting costs a hash table
                if family not in KEY_FAMILIES
                else exp.Count(this=exp.Distinct(expressions=[value.copy()]))
                if exact[i]
                else exp.ApproxDistinct(this=value.copy())
            )
            ordered = family in ORDERED
            out += [
                _alias(exp.Count(this=value.copy()), f"c{i}_non_null"),
                _alias(distinct, f"c{i}_distinct"),
                _alias(exp.Min(this=value.copy()) if ordered else exp.null(), f"c{i}_min"),
                _alias(exp.Max(this=value.copy()) if ordered else exp.null(), f"c{i}_max"),
            ]
        return exp.select(*out).from_(table.copy())

    def value_sketch(self, table: exp.Table, columns: Sequence[tuple[Column, float]]) -> exp.Select:
        """Per column, the distinct hashes below its rate's share of the hash space."""
        out: list[exp.Expr] = []
        for i, (column, rate) in enumerate(columns):
            h = self._hash(column)
            keep: exp.Expr = exp.Not(this=exp.Is(this=_c(column.name), expression=exp.null()))
            if rate < 1:
                threshold = int(rate * HASH_SPACE) - (SIGNED_OFFSET if self.bigquery else 0)
                limit: exp.Expr = _num(threshold)
                if not self.bigquery:
                    limit = exp.Cast(this=limit, to=_TYPES["UBIGINT"].copy())
                keep = exp.and_(keep, exp.LT(this=h.copy(), expression=limit))
            if self.bigquery:
                picked = exp.If(this=keep, true=h, false=exp.null())
                agg: exp.Expr = exp.IgnoreNulls(
                    this=exp.ArrayAgg(this=exp.Distinct(expressions=[picked]))
                )
            else:  # DuckDB: deduplicating the kept list is 2-5x faster than a DISTINCT aggregate
                kept = exp.Filter(this=exp.ArrayAgg(this=h), expression=exp.Where(this=keep))
                agg = exp.Anonymous(this="list_distinct", expressions=[kept])
            out.append(_alias(agg, f"c{i}_sketch"))
        return exp.select(*out).from_(table.copy())

    def pair_distinct(self, table: exp.Table, pairs: Sequence[tuple[str, str]]) -> exp.Select:
        """Distinct (a, b) pairs among rows where both are set, per pair; and those rows."""
        out: list[exp.Expr] = []
        for i, (a, b) in enumerate(pairs):
            both = exp.and_(
                exp.Not(this=exp.Is(this=_c(a), expression=exp.null())),
                exp.Not(this=exp.Is(this=_c(b), expression=exp.null())),
            )
            if self.bigquery:
                key: exp.Expr = exp.func("TO_JSON_STRING", exp.Struct(expressions=[_c(a), _c(b)]))
                key = exp.If(this=both, true=key, false=exp.null())
            else:
                key = exp.Case(ifs=[exp.If(this=both, true=exp.Tuple(expressions=[_c(a), _c(b)]))])
            out.append(_alias(exp.Count(this=exp.Distinct(expressions=[key])), f"p{i}_distinct"))
            rows = exp.func(
                "sum", exp.Case(ifs=[exp.If(this=both.copy(), true=_num(1))], default=_num(0))
            )
            out.append(_alias(rows, f"p{i}_rows"))
        return exp.select(*out).from_(table.copy())

    # -- validating one join ---------------------------------------------------------------
    def join_stats(
        self,
        child: exp.Table,
        child_columns: Sequence[str],
        parent: exp.Table,
        parent_columns: Sequence[str],
    ) -> exp.Select:
        """One row of counts: see :class:`policies.joins.risk.JoinStats`."""
        keys = [f"k{i}" for i in range(len(child_columns))]

        def grouped(table: exp.Table, columns: Sequence[str]) -> exp.Select:
            picked = [_alias(_c(c), k) for c, k in zip(columns, keys, strict=True)]
            not_null = exp.and_(
                *[exp.Not(this=exp.Is(this=_c(c), expression=exp.null())) for c in columns]
            )
            return (
                exp.select(*picked, _alias(_count_all(), "n"))
                .from_(table.copy())
                .where(not_null)
                .group_by(*[exp.column(k) for k in keys])
            )

        on = exp.and_(*[exp.EQ(this=_c(k, "c"), expression=_c(k, "p")) for k in keys])
        joined = (
            exp.select(_alias(_c("n", "c"), "cn"), _alias(_c("n", "p"), "pn"))
            .from_(exp.to_table("c"))
            .join(exp.to_table("p"), on=on, join_type="FULL OUTER")
        )
        cn, pn = _c("cn"), _c("pn")
        has_c = exp.Not(this=exp.Is(this=cn.copy(), expression=exp.null()))
        has_p = exp.Not(this=exp.Is(this=pn.copy(), expression=exp.null()))
        no_p = exp.Is(this=pn.copy(), expression=exp.null())

        def total(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
            case = exp.Case(ifs=[exp.If(this=condition, true=value)], default=_num(0))
            return exp.func("coalesce", exp.func("sum", case), _num(0))

        def counted(condition: exp.Expr) -> exp.Expr:
            return total(condition, _num(1))

        child_rows = exp.select(_count_all()).from_(child.copy()).subquery()
        any_null = exp.or_(*[exp.Is(this=_c(c), expression=exp.null()) for c in child_columns])
        child_nulls = exp.select(_count_all()).from_(child.copy()).where(any_null).subquery()
        select = exp.select(
            _alias(child_rows, "child_rows"),
            _alias(child_nulls, "child_null_rows"),
            _alias(total(exp.and_(has_c.copy(), no_p.copy()), cn.copy()), "orphan_rows"),
            _alias(total(exp.and_(has_c.copy(), has_p.copy()), cn.copy()), "matched_rows"),
            _alias(counted(has_c.copy()), "child_keys"),
            _alias(counted(exp.and_(has_c.copy(), has_p.copy())), "matched_keys"),
            _alias(counted(has_p.copy()), "parent_keys"),
            _alias(
                exp.func(
                    "coalesce",
                    exp.func("max", exp.Case(ifs=[exp.If(this=has_p.copy(), true=cn.copy())])),
                    _num(0),
                ),
                "max_fan_out",
            ),
            _alias(exp.func("coalesce", exp.func("max", pn.copy()), _num(0)), "max_parent_dup"),
        ).from_(exp.to_table("j"))
        return (
            select.with_("c", as_=grouped(child, child_columns))
            .with_("p", as_=grouped(parent, parent_columns))
            .with_("j", as_=joined)
        )

    def join_sample(
        self,
        child: exp.Table,
        child_columns: Sequence[str],
        child_shown: Sequence[str],
        parent: exp.Table,
        parent_columns: Sequence[str],
        parent_shown: Sequence[str],
        limit: int,
    ) -> exp.Select:
        """A few joined rows: the key and a few other columns of each side."""
        on = exp.and_(
            *[
                exp.EQ(this=_c(c, "c"), expression=_c(p, "p"))
                for c, p in zip(child_columns, parent_columns, strict=True)
            ]
        )
        picked = [_alias(_c(c, "c"), f"child.{c}") for c in child_shown] + [
            _alias(_c(p, "p"), f"parent.{p}") for p in parent_shown
        ]
        for a in picked:
            a.set("alias", exp.to_identifier(a.alias, quoted=True))
        order = [_c(c, "c") for c in child_columns]
        return (
            exp.select(*picked)
            .from_(child.copy().as_("c"))
            .join(parent.copy().as_("p"), on=on, join_type="INNER")
            .order_by(*order)
            .limit(limit)
        )


# -- reading the answers -----------------------------------------------------------------------
def json_scalar(value: object) -> int | float | str | None:
    """A value as JSON keeps it: numbers stay numbers, dates and the rest become text."""
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _likely_keys(columns: Sequence[ColumnProfile]) -> list[str]:
    """Columns named like keys (``*_id``, ``line_no``): the likeliest parts of a two-column key."""
    keyish = [c for c in columns if c.key_like and c.distinct > 1 and key_named(c.name)]
    return [c.name for c in sorted(keyish, key=lambda c: c.name)[:MAX_COMPOSITE_COLUMNS]]


def profile_table(
    run: Runner,
    ps: ProfileStatements,
    table: exp.Table,
    name: str,
    version: int | None,
    columns: Sequence[Column],
) -> TableProfile:
    """Profile one table with at most three queries (see the module docstring)."""
    # Columns named like keys are counted exactly (an approximate count cannot tell unique from
    # nearly unique); the others approximately: an exact count costs a hash table per column.
    exact = [key_named(c.name) for c in columns]
    row = run(ps.column_stats(table, columns, exact))[0]
    row_count = int(str(row[0]))
    profiles: list[ColumnProfile] = []
    for i, column in enumerate(columns):
        non_null, distinct, low, high = row[1 + 4 * i : 5 + 4 * i]
        profiles.append(
            ColumnProfile(
                name=column.name,
                data_type=column.data_type,
                non_null=int(str(non_null)),
                distinct=0 if distinct is None else min(int(str(distinct)), int(str(non_null))),
                distinct_exact=exact[i],
                min_value=json_scalar(low),
                max_value=json_scalar(high),
            )
        )
    keyed = [(i, p) for i, p in enumerate(profiles) if p.family in KEY_FAMILIES and p.non_null]
    if keyed:
        rates = [sketch_rate(p.distinct) for _, p in keyed]
        query = ps.value_sketch(
            table, [(columns[i], r) for (i, _), r in zip(keyed, rates, strict=True)]
        )
        (hashes,) = run(query)
        for (i, p), rate, found in zip(keyed, rates, hashes, strict=True):
            values = found if isinstance(found, list | tuple) else []
            shift = SIGNED_OFFSET if ps.bigquery else 0
            sketch = Sketch(rate, frozenset(int(str(h)) + shift for h in values if h is not None))
            profiles[i] = ColumnProfile(**{**p.__dict__, "sketch": sketch})
    partial = TableProfile(name, version, row_count, tuple(profiles))
    composite: tuple[tuple[str, str], ...] = ()
    if row_count > 1 and not partial.has_single_key():
        pairs = list(combinations(_likely_keys(partial.columns), 2))
        if pairs:
            (counts,) = run(ps.pair_distinct(table, pairs))
            composite = tuple(
                pair
                for j, pair in enumerate(pairs)
                if int(str(counts[2 * j])) == row_count == int(str(counts[2 * j + 1]))
            )
    return TableProfile(name, version, row_count, tuple(profiles), composite)


def join_stats(
    run: Runner,
    ps: ProfileStatements,
    child: tuple[exp.Table, Sequence[str], Sequence[str]],
    parent: tuple[exp.Table, Sequence[str], Sequence[str]],
    samples: int = 3,
) -> JoinStats:
    """Validate one join: its counts, and ``samples`` joined rows (key + a few columns each)."""
    (ct, ccols, call), (pt, pcols, pall) = child, parent
    ((child_rows, nulls, orphans, matched, ckeys, mkeys, pkeys, fan, dup),) = run(
        ps.join_stats(ct, ccols, pt, pcols)
    )
    shown_c = list(ccols) + [c for c in call if c not in ccols][: SAMPLE_COLUMNS - len(ccols)]
    shown_p = [c for c in pall if c not in pcols][:SAMPLE_COLUMNS]
    rows = run(ps.join_sample(ct, ccols, shown_c, pt, pcols, shown_p, samples)) if samples else []
    names = [f"child.{c}" for c in shown_c] + [f"parent.{p}" for p in shown_p]
    return JoinStats(
        child_rows=int(str(child_rows)),
        child_null_rows=int(str(nulls)),
        orphan_rows=int(str(orphans)),
        matched_rows=int(str(matched)),
        child_keys=int(str(ckeys)),
        matched_keys=int(str(mkeys)),
        parent_keys=int(str(pkeys)),
        max_fan_out=int(str(fan)),
        max_parent_dup=int(str(dup)),
        samples=tuple({n: json_scalar(v) for n, v in zip(names, r, strict=True)} for r in rows),
    )
