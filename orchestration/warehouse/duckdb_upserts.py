"""Upserts on DuckDB: versions as manifests of immutable segments, merged on read.

Every act here is one DuckDB transaction (DDL included), so a crash leaves the version and
its manifest either complete or absent, and a segment is dropped only once no version's
manifest names it. See :mod:`orchestration.warehouse.upserts` for the design.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
from sqlglot import exp

from orchestration.warehouse.statements import Dialect, Statements
from orchestration.warehouse.upserts import (
    MANIFEST_TABLE,
    STATS_TABLE,
    UpsertKeys,
    latest_per_key,
    segment_statements,
    segments_schema,
)
from policies.errors import NotFound, ValidationFailed
from policies.naming import TableRef

STATEMENTS = Statements(Dialect.DUCKDB)
SEGMENTS = segment_statements(Dialect.DUCKDB)


def _run(con: duckdb.DuckDBPyConnection, *statements: exp.Expr) -> None:
    for statement in statements:
        con.execute(statement.sql("duckdb"))


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _prepare(con: duckdb.DuckDBPyConnection, ref: TableRef) -> None:
    _run(
        con,
        STATEMENTS.create_schema(segments_schema(ref)),
        STATEMENTS.create_schema(ref.shadow_schema),
        SEGMENTS.create_manifest(ref),
        SEGMENTS.create_stats(ref),
    )


def _has_manifest(con: duckdb.DuckDBPyConnection, ref: TableRef) -> bool:
    return _has_table(con, ref, MANIFEST_TABLE)


def _has_table(con: duckdb.DuckDBPyConnection, ref: TableRef, name: str) -> bool:
    query = (
        exp.select(exp.func("count", exp.Star()))
        .from_(exp.table_("tables", db="information_schema"))
        .where(
            exp.and_(
                exp.column("table_schema").eq(exp.Literal.string(segments_schema(ref))),
                exp.column("table_name").eq(exp.Literal.string(name)),
            )
        )
    )
    ((count,),) = con.execute(query.sql("duckdb")).fetchall()
    return bool(count)


def manifests(con: duckdb.DuckDBPyConnection, ref: TableRef) -> dict[int, list[int]]:
    """Every segmented version of the table and its segments, base first."""
    if not _has_manifest(con, ref):
        return {}
    out: dict[int, list[int]] = {}
    for version, _, segment in con.execute(SEGMENTS.read_manifest(ref).sql("duckdb")).fetchall():
        out.setdefault(int(version), []).append(int(segment))
    return out


def stored_stats(
    con: duckdb.DuckDBPyConnection, ref: TableRef, version: int
) -> tuple[int, int] | None:
    """(row count, row-hash sum) recorded when a segmented version was written; None if none."""
    if not _has_table(con, ref, STATS_TABLE):
        return None
    rows = con.execute(SEGMENTS.read_stats(ref, version).sql("duckdb")).fetchall()
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def _segment_tables(con: duckdb.DuckDBPyConnection, ref: TableRef) -> list[int]:
    query = (
        exp.select("table_name")
        .from_(exp.table_("tables", db="information_schema"))
        .where(exp.column("table_schema").eq(exp.Literal.string(segments_schema(ref))))
    )
    pattern = re.compile(rf"^{re.escape(ref.name)}__seg(\d+)$")
    names = [str(n) for (n,) in con.execute(query.sql("duckdb")).fetchall()]
    return sorted(int(m.group(1)) for n in names if (m := pattern.match(n)))


def _next_segment(con: duckdb.DuckDBPyConnection, ref: TableRef) -> int:
    return max(_segment_tables(con, ref), default=0) + 1


def _columns(con: duckdb.DuckDBPyConnection, table: exp.Table) -> list[str]:
    query = exp.select("*").from_(table).limit(0)
    return [str(d[0]) for d in con.execute(query.sql("duckdb")).description or ()]


def _collect_garbage(con: duckdb.DuckDBPyConnection, ref: TableRef) -> None:
    """Drop the segments no version's manifest names any more."""
    used = {s for segments in manifests(con, ref).values() for s in segments}
    for segment in _segment_tables(con, ref):
        if segment not in used:
            _run(con, SEGMENTS.drop_segment(ref, segment))


def upsert(
    con: duckdb.DuckDBPyConnection,
    ref: TableRef,
    version: int,
    batch: exp.Table,
    keys: UpsertKeys,
    base_version: int | None,
) -> None:
    """Version N = version ``base_version`` + ``batch``, latest per key; O(batch) once segmented.

    A base that is a plain version (a whole copy) is adopted once as a segment (O(rows) that
    one time), so later versions never depend on a table the janitor may drop.
    """
    columns = _columns(con, batch)
    missing = [c for c in (*keys.key, keys.event_time) if c not in columns]
    if missing:
        raise ValidationFailed(
            f"the batch for {ref} has no column {', '.join(missing)}; the upsert merges on "
            "the key and the event time, so the batch must carry them",
            details={"table": str(ref), "missing": missing},
        )
    _prepare(con, ref)
    with _transaction(con):
        known = manifests(con, ref)
        segments: list[int] = []
        if base_version is not None:
            base_table = STATEMENTS.version_table(ref, base_version)
            base_columns = _columns_or_missing(con, ref, base_version)
            if sorted(base_columns) != sorted(columns):
                raise ValidationFailed(
                    f"the batch's columns differ from version {base_version} of {ref}; an "
                    "upsert keeps the schema (a schema change is a full build)",
                    details={"table": str(ref), "batch": columns, "base": base_columns},
                )
            columns = base_columns
            if base_version in known:
                segments = list(known[base_version])
            else:
                adopted = _next_segment(con, ref)
                _run(
                    con,
                    SEGMENTS.create_segment(
                        ref, adopted, latest_per_key(base_table, columns, keys)
                    ),
                )
                segments = [adopted]
        delta = _next_segment(con, ref)
        _run(
            con,
            SEGMENTS.create_segment(ref, delta, _deduplicated(con, batch, columns, keys)),
            SEGMENTS.create_merged_version(ref, version, [*segments, delta], columns, keys),
            SEGMENTS.record_manifest(ref, version, [*segments, delta]),
        )
        picked = [exp.column(c, quoted=True) for c in columns]
        if base_version is None:  # the version is the batch: count it
            counted = SEGMENTS.counted(
                exp.select(*picked).from_(SEGMENTS.segment_table(ref, delta))
            )
        elif base_version in known and stored_stats(con, ref, base_version) is not None:
            counted = SEGMENTS.stats_after(ref, base_version, segments, delta, columns, keys)
        else:  # a base adopted just now (already O(rows)): count the new version once
            view = STATEMENTS.version_table(ref, version)
            counted = SEGMENTS.counted(exp.select(*picked).from_(view))
        _run(con, SEGMENTS.record_stats(ref, version, counted))


def _deduplicated(
    con: duckdb.DuckDBPyConnection, batch: exp.Table, columns: list[str], keys: UpsertKeys
) -> exp.Query:
    """The batch's latest row per key; the batch as it is when no key repeats (checked: a
    count of distinct keys costs a fraction of the ranking it saves)."""
    distinct = exp.select(*[exp.column(k, quoted=True) for k in keys.key]).distinct().from_(batch)
    check = exp.select(
        exp.EQ(
            this=exp.select(exp.func("count", exp.Star())).from_(batch).subquery(),
            expression=exp.select(exp.func("count", exp.Star()))
            .from_(distinct.subquery("keys"))
            .subquery(),
        )
    )
    ((unique,),) = con.execute(check.sql("duckdb")).fetchall()
    if unique:
        return exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(batch)
    return latest_per_key(batch, columns, keys)


def _columns_or_missing(con: duckdb.DuckDBPyConnection, ref: TableRef, version: int) -> list[str]:
    try:
        return _columns(con, STATEMENTS.version_table(ref, version))
    except duckdb.CatalogException as e:
        raise NotFound(
            f"version {version} of {ref} does not exist in the warehouse",
            details={"table": str(ref), "version": version},
        ) from e


def compact(con: duckdb.DuckDBPyConnection, ref: TableRef, version: int) -> bool:
    """Fold a version's segments into one; its rows stay exactly the same. False: nothing to do.

    The folded segment is the version's own view, materialised: no contract needed to redo
    the merge. O(rows), meant for the background (the janitor's schedule), never an upsert.
    """
    segments = manifests(con, ref).get(version)
    if segments is None or len(segments) < 2:
        return False
    with _transaction(con):
        view = STATEMENTS.version_table(ref, version)
        columns = _columns(con, view)
        folded = _next_segment(con, ref)
        picked = [exp.column(c, quoted=True) for c in columns]
        _run(
            con,
            SEGMENTS.create_segment(ref, folded, exp.select(*picked).from_(view)),
            exp.Create(
                this=view,
                kind="VIEW",
                replace=True,
                expression=exp.select(*picked).from_(SEGMENTS.segment_table(ref, folded)),
            ),
            SEGMENTS.forget_manifest(ref, version),
            SEGMENTS.record_manifest(ref, version, [folded]),
        )
        _collect_garbage(con, ref)
    return True


def drop_segmented(con: duckdb.DuckDBPyConnection, ref: TableRef, version: int) -> bool:
    """Drop a segmented version and the segments only it used; False if it is not segmented."""
    if version not in manifests(con, ref):
        return False
    with _transaction(con):
        _run(
            con,
            SEGMENTS.drop_version_view(ref, version),
            SEGMENTS.forget_manifest(ref, version),
            SEGMENTS.forget_stats(ref, version),
        )
        _collect_garbage(con, ref)
    return True


def segment_counts(con: duckdb.DuckDBPyConnection, ref: TableRef) -> dict[int, int]:
    """How many segments each segmented version reads (what compaction brings back to 1)."""
    return {v: len(s) for v, s in manifests(con, ref).items()}


__all__: Sequence[str] = ["compact", "drop_segmented", "manifests", "segment_counts", "upsert"]
