"""Statements of an upsert whose cost is the batch's, not the table's, per warehouse.

The rule, the same everywhere: a version holds one row per key, the one with the latest event
time; on a tie, the row of the later batch wins, and within a batch the greatest row (all
columns compared in order), so the result never depends on the order rows arrived in. An
event time that is NULL loses to any other.

- **DuckDB** has no clones, so a version is a manifest of immutable *segment* tables (a base
  and the batches upserted since) in ``<layer>__segments``, read through a view
  ``<layer>__shadow.<table>__v<N>`` that merges them: base rows whose key no batch touches
  pass through an anti-join; only the touched keys are ranked. An upsert writes one segment
  (the batch, latest per key) and one view: O(batch). Compaction later folds the segments of a
  version into one, without changing its rows.
- **BigQuery** clones version N (zero-copy) into N+1 and MERGEs the batch into the clone:
  BigQuery bills the MERGE for the batch plus the key and event-time columns it joins on.

Names come from validated TableRefs and integers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from orchestration.warehouse.statements import Dialect, Statements
from policies.naming import TableRef

SEGMENT_COLUMN = "_spyne_segment"  # a segment's rank in a version, inside the merge view only
MANIFEST_TABLE = "spyne_manifest"
STATS_TABLE = "spyne_version_stats"  # row count and row-hash sum of each segmented version
HASH_COLUMN = "_spyne_row_hash"  # each segment row's content hash, kept beside it (never shown)
BATCH_ALIAS, TARGET_ALIAS = "batch", "target"


@dataclass(frozen=True)
class UpsertKeys:
    """What an upsert merges on: the idempotency key and the event-time column."""

    key: tuple[str, ...]
    event_time: str


def segments_schema(ref: TableRef) -> str:
    return f"{ref.layer.value}__segments"


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _rank(keys: UpsertKeys, tiebreak: Sequence[exp.Expr]) -> exp.Window:
    order = [exp.Ordered(this=_col(keys.event_time), desc=True, nulls_first=False)]
    order += [exp.Ordered(this=t, desc=True, nulls_first=False) for t in tiebreak]
    return exp.Window(
        this=exp.RowNumber(),
        partition_by=[_col(k) for k in keys.key],
        order=exp.Order(expressions=order),
    )


def latest_per_key(source: exp.Expr, columns: Sequence[str], keys: UpsertKeys) -> exp.Select:
    """One row per key: the latest by event time, ties broken by the row's columns."""
    rank = _rank(keys, [_col(c) for c in columns if c != keys.event_time])
    # BigQuery refuses a QUALIFY without a WHERE, GROUP BY or HAVING beside it.
    select = exp.select(*[_col(c) for c in columns]).from_(source).where(exp.true())
    return select.qualify(rank.eq(exp.Literal.number(1)))


@dataclass(frozen=True)
class SegmentStatements:
    statements: Statements

    # -- DuckDB: segments, manifests and the merge view --------------------------------------
    def segment_table(self, ref: TableRef, segment: int) -> exp.Table:
        return self.statements.table(segments_schema(ref), f"{ref.name}__seg{segment}")

    def manifest_table(self, ref: TableRef) -> exp.Table:
        return self.statements.table(segments_schema(ref), MANIFEST_TABLE)

    def create_manifest(self, ref: TableRef) -> exp.Create:
        columns = [
            ("table_name", "VARCHAR"),
            ("version", "INT"),
            ("position", "INT"),
            ("segment", "INT"),
        ]
        return exp.Create(
            this=exp.Schema(
                this=self.manifest_table(ref),
                expressions=[
                    exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t))
                    for c, t in columns
                ],
            ),
            kind="TABLE",
            exists=True,
        )

    def read_manifest(self, ref: TableRef, version: int | None = None) -> exp.Select:
        """(version, position, segment) of one version, or of every version of the table."""
        where: exp.Expr = exp.column("table_name").eq(exp.Literal.string(ref.name))
        if version is not None:
            where = exp.and_(where, exp.column("version").eq(exp.Literal.number(version)))
        return (
            exp.select("version", "position", "segment")
            .from_(self.manifest_table(ref))
            .where(where)
            .order_by("version", "position")
        )

    def record_manifest(self, ref: TableRef, version: int, segments: Sequence[int]) -> exp.Insert:
        rows = [
            exp.Tuple(
                expressions=[
                    exp.Literal.string(ref.name),
                    exp.Literal.number(version),
                    exp.Literal.number(position),
                    exp.Literal.number(segment),
                ]
            )
            for position, segment in enumerate(segments)
        ]
        return exp.insert(exp.Values(expressions=rows), self.manifest_table(ref))

    def forget_manifest(self, ref: TableRef, version: int) -> exp.Delete:
        where = exp.and_(
            exp.column("table_name").eq(exp.Literal.string(ref.name)),
            exp.column("version").eq(exp.Literal.number(version)),
        )
        return exp.delete(self.manifest_table(ref), where=where)

    # -- the content of a segmented version, kept as it is written ---------------------------------
    def stats_table(self, ref: TableRef) -> exp.Table:
        return self.statements.table(segments_schema(ref), STATS_TABLE)

    def create_stats(self, ref: TableRef) -> exp.Create:
        columns = [("table_name", "VARCHAR"), ("version", "INT"), ("row_count", "BIGINT")]
        columns.append(("hash_sum", "HUGEINT"))
        return exp.Create(
            this=exp.Schema(
                this=self.stats_table(ref),
                expressions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(c), kind=exp.DataType.build(t, dialect="duckdb")
                    )
                    for c, t in columns
                ],
            ),
            kind="TABLE",
            exists=True,
        )

    def _stats_where(self, ref: TableRef, version: int) -> exp.Expr:
        return exp.and_(
            exp.column("table_name").eq(exp.Literal.string(ref.name)),
            exp.column("version").eq(exp.Literal.number(version)),
        )

    def read_stats(self, ref: TableRef, version: int) -> exp.Select:
        return (
            exp.select("row_count", "hash_sum")
            .from_(self.stats_table(ref))
            .where(self._stats_where(ref, version))
        )

    def forget_stats(self, ref: TableRef, version: int) -> exp.Delete:
        return exp.delete(self.stats_table(ref), where=self._stats_where(ref, version))

    def record_stats(self, ref: TableRef, version: int, query: exp.Query) -> exp.Insert:
        """Insert (table, version, row_count, hash_sum) from a query answering the last two."""
        select = exp.select(
            exp.Literal.string(ref.name), exp.Literal.number(version), exp.Star()
        ).from_(query.subquery("counted"))
        return exp.insert(select, self.stats_table(ref))

    @staticmethod
    def counted(rows: exp.Query) -> exp.Select:
        """(count, sum of row hashes) of ``rows``: what ``Statements.content_hash`` computes."""
        row_hash = exp.cast(exp.func("hash", exp.to_identifier("r")), "HUGEINT")
        return exp.select(
            exp.alias_(exp.func("count", exp.Star()), "n"),
            exp.alias_(exp.func("coalesce", exp.func("sum", row_hash), exp.Literal.number(0)), "h"),
        ).from_(rows.subquery("r"))

    def stats_after(
        self,
        ref: TableRef,
        base: int,
        segments: Sequence[int],
        delta: int,
        columns: Sequence[str],
        keys: UpsertKeys,
    ) -> exp.Select:
        """The new version's (count, hash sum) from the base version's and the batch alone.

        Only the keys the batch touches are looked at: their current row (each segment of the
        base version semi-joined on the batch's keys, a scan of the key column; ranked only
        when the base has several segments) is joined to the batch's row, and the batch's row
        replaces it where it wins by the merge rule. New keys add a row.
        """
        picked = [_col(c) for c in columns]
        using: list[int | str | exp.Expr] = [exp.to_identifier(k, quoted=True) for k in keys.key]
        delta_table = self.segment_table(ref, delta)
        row_hash = exp.alias_(exp.cast(exp.func("hash", exp.to_identifier("r")), "HUGEINT"), "h")
        carried = [*[_col(k) for k in keys.key], _col(keys.event_time), row_hash]

        def hashed(rows: exp.Query) -> exp.Select:
            return exp.select(*carried).from_(rows.subquery("r"))

        def touched(segment: int) -> exp.Select:
            return (
                exp.select(*picked)
                .from_(self.segment_table(ref, segment))
                .join(delta_table, using=using, join_type="semi")
            )

        stored = [
            *[_col(k) for k in keys.key],
            _col(keys.event_time),
            exp.alias_(_col(HASH_COLUMN), "h"),
        ]
        if len(segments) == 1:  # narrow: the key, the event time and the stored hash
            old_rows: exp.Query = (
                exp.select(*stored)
                .from_(self.segment_table(ref, segments[0]))
                .join(delta_table, using=using, join_type="semi")
            )
        else:
            ranked: exp.Query | None = None
            for position, segment in enumerate(segments):
                one = touched(segment).select(
                    exp.alias_(exp.Literal.number(position), SEGMENT_COLUMN)
                )
                ranked = one if ranked is None else exp.union(ranked, one, distinct=False)
            assert ranked is not None
            tiebreak = [_col(SEGMENT_COLUMN), *[_col(c) for c in columns if c != keys.event_time]]
            current = (
                exp.select(*picked)
                .from_(ranked.subquery("contenders"))
                .qualify(_rank(keys, tiebreak).eq(exp.Literal.number(1)))
            )
            old_rows = hashed(current)
        batch_rows = exp.select(*stored).from_(delta_table)
        old_e, new_e = _col(keys.event_time, "old"), _col(keys.event_time, "new")
        absent = _col(keys.key[0], "old").is_(exp.null())
        # the merge rule: event time DESC NULLS LAST, then the later segment (the batch)
        wins = exp.or_(
            absent,
            exp.Case(
                ifs=[exp.If(this=new_e.is_(exp.null()), true=old_e.is_(exp.null()))],
                default=exp.or_(old_e.is_(exp.null()), new_e >= old_e),
            ),
        )
        gained = exp.Filter(
            this=exp.func("count", exp.Star()), expression=exp.Where(this=absent.copy())
        )
        change = exp.If(
            this=wins,
            true=_col("h", "new") - exp.func("coalesce", _col("h", "old"), exp.Literal.number(0)),
            false=exp.Literal.number(0),
        )
        on = exp.and_(*[_col(k, "new").eq(_col(k, "old")) for k in keys.key])
        delta_stats = (
            exp.select(
                exp.alias_(gained, "n"),
                exp.alias_(
                    exp.func("coalesce", exp.func("sum", change), exp.Literal.number(0)), "h"
                ),
            )
            .from_(batch_rows.subquery("new"))
            .join(old_rows.subquery("old"), on=on, join_type="left")
        )
        return (
            exp.select(
                exp.column("row_count", "base") + exp.column("n", "delta"),
                exp.column("hash_sum", "base") + exp.column("h", "delta"),
            )
            .from_(self.read_stats(ref, base).subquery("base"))
            .join(delta_stats.subquery("delta"), join_type="cross")
        )

    def create_segment(self, ref: TableRef, segment: int, select: exp.Query) -> exp.Create:
        """A segment: the rows, and each row's content hash (what a manifest sums) beside it."""
        row_hash = exp.cast(exp.func("hash", exp.to_identifier("r")), "HUGEINT")
        with_hash = exp.select(exp.Star(), exp.alias_(row_hash, HASH_COLUMN)).from_(
            select.subquery("r")
        )
        return exp.Create(this=self.segment_table(ref, segment), kind="TABLE", expression=with_hash)

    def drop_segment(self, ref: TableRef, segment: int) -> exp.Drop:
        return exp.Drop(tables=[self.segment_table(ref, segment)], kind="TABLE", exists=True)

    def merged(
        self, ref: TableRef, segments: Sequence[int], columns: Sequence[str], keys: UpsertKeys
    ) -> exp.Query:
        """The rows of a version made of ``segments`` (base first): latest per key."""
        base, *deltas = segments
        picked = [_col(c) for c in columns]
        if not deltas:
            return exp.select(*picked).from_(self.segment_table(ref, base))

        def ranked(segment: int, position: int) -> exp.Select:
            rank = exp.alias_(exp.Literal.number(position), SEGMENT_COLUMN)
            return exp.select(*picked, rank).from_(self.segment_table(ref, segment))

        batches: exp.Query = ranked(deltas[0], 1)
        for position, segment in enumerate(deltas[1:], start=2):
            batches = exp.union(batches, ranked(segment, position), distinct=False)
        using: list[int | str | exp.Expr] = [exp.to_identifier(k, quoted=True) for k in keys.key]
        touched_base = ranked(base, 0).join("batches", using=using, join_type="semi")
        contenders = exp.union(
            touched_base, exp.select(*picked, _col(SEGMENT_COLUMN)).from_("batches"), distinct=False
        )
        rank = _rank(
            keys, [_col(SEGMENT_COLUMN), *[_col(c) for c in columns if c != keys.event_time]]
        )
        winners = (
            exp.select(*picked)
            .from_(contenders.subquery("contenders"))
            .qualify(rank.eq(exp.Literal.number(1)))
        )
        untouched = (
            exp.select(*picked)
            .from_(self.segment_table(ref, base))
            .join("batches", using=using, join_type="anti")
        )
        return exp.union(untouched, winners, distinct=False).with_("batches", as_=batches)

    def create_merged_version(
        self,
        ref: TableRef,
        version: int,
        segments: Sequence[int],
        columns: Sequence[str],
        keys: UpsertKeys,
        *,
        replace: bool = False,
    ) -> exp.Create:
        return exp.Create(
            this=self.statements.version_table(ref, version),
            kind="VIEW",
            replace=replace,
            expression=self.merged(ref, segments, columns, keys),
        )

    def drop_version_view(self, ref: TableRef, version: int) -> exp.Drop:
        return exp.Drop(
            tables=[self.statements.version_table(ref, version)], kind="VIEW", exists=True
        )

    # -- BigQuery: a batch merged into a zero-copy clone ------------------------------------------
    def batch_table(self, ref: TableRef, version: int) -> exp.Table:
        """Where the batch is loaded before the MERGE (not a version: the name does not parse)."""
        return self.statements.table(ref.shadow_schema, f"{ref.version_identifier(version)}__batch")

    def merge_batch(
        self, ref: TableRef, version: int, columns: Sequence[str], keys: UpsertKeys
    ) -> exp.Merge:
        """MERGE the batch (latest per key) into version N, a clone of the base version."""
        target = self.statements.version_table(ref, version)
        target.set("alias", exp.TableAlias(this=exp.to_identifier(TARGET_ALIAS)))
        source = latest_per_key(self.batch_table(ref, version), columns, keys).subquery(BATCH_ALIAS)
        on = exp.and_(*[_col(k, TARGET_ALIAS).eq(_col(k, BATCH_ALIAS)) for k in keys.key])
        event_t, event_b = _col(keys.event_time, TARGET_ALIAS), _col(keys.event_time, BATCH_ALIAS)
        wins = exp.paren(exp.or_(event_b >= event_t, event_t.is_(exp.null())))
        update = exp.Update(
            expressions=[
                exp.EQ(this=_col(c), expression=_col(c, BATCH_ALIAS))
                for c in columns
                if c not in keys.key
            ]
        )
        insert = exp.Insert(
            this=exp.Tuple(expressions=[_col(c) for c in columns]),
            expression=exp.Tuple(expressions=[_col(c, BATCH_ALIAS) for c in columns]),
        )
        whens = exp.Whens(
            expressions=[
                exp.When(matched=True, source=False, condition=wins, then=update),
                exp.When(matched=False, source=False, then=insert),
            ]
        )
        return exp.Merge(this=target, using=source, on=on, whens=whens)

    def create_from_batch(
        self, ref: TableRef, version: int, columns: Sequence[str], keys: UpsertKeys
    ) -> exp.Create:
        """A first version straight from a batch: its latest row per key."""
        select = latest_per_key(self.batch_table(ref, version), columns, keys)
        return self.statements.create_version(ref, version, select)

    def drop_batch(self, ref: TableRef, version: int) -> exp.Drop:
        return exp.Drop(tables=[self.batch_table(ref, version)], kind="TABLE", exists=True)


def segment_statements(dialect: Dialect, project: str | None = None) -> SegmentStatements:
    return SegmentStatements(Statements(dialect, project=project))
