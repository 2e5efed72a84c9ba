"""Which landed batches each bronze version holds: a ledger beside the landing tables.

A bronze version built by a contract is the previous one plus every landed batch after the
batches the previous one held. The ledger row of a version (``landing._spyne_bronze_ledger``)
names its base and the newest batch it holds; it is written before the version and counts only
once the catalog registered that version (the catalog is the source of truth). Killed before
the registration, the version is a leftover the next build skips, its ledger row is ignored,
and the batches it read are still pending: landing is consumed only when a version commits.

dlt's load ids grow with time and a batch completes before a later one is extracted (under
the landing lock), so "every batch after the newest one held" is exactly what is pending.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import duckdb
from sqlglot import exp

from orchestration.extraction.landing import LANDING_DATASET, complete_batches

LEDGER_TABLE = "_spyne_bronze_ledger"
_COLUMNS = (
    ("table_name", "VARCHAR"),
    ("version", "INT"),
    ("base_version", "INT"),
    ("through_batch", "VARCHAR"),
    ("batches", "INT"),
)


@dataclass(frozen=True)
class LedgerEntry:
    table_name: str  # the bronze table (canonical name)
    version: int
    base_version: int | None
    through_batch: str | None  # the newest landed batch the version holds (None: none yet)
    batches: int  # batches this version added to its base


def _table() -> exp.Table:
    return exp.table_(LEDGER_TABLE, db=LANDING_DATASET, quoted=True)


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    create = exp.Create(
        this=exp.Schema(
            this=_table(),
            expressions=[
                exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t))
                for c, t in _COLUMNS
            ],
        ),
        kind="TABLE",
        exists=True,
    )
    con.execute(
        exp.Create(this=exp.to_identifier(LANDING_DATASET), kind="SCHEMA", exists=True).sql(
            "duckdb"
        )
    )
    con.execute(create.sql("duckdb"))


def entries(con: duckdb.DuckDBPyConnection, table_name: str) -> list[LedgerEntry]:
    _ensure(con)
    query = (
        exp.select(*[c for c, _ in _COLUMNS])
        .from_(_table())
        .where(exp.column("table_name").eq(exp.Literal.string(table_name)))
        .order_by("version")
    )
    return [LedgerEntry(*row) for row in con.execute(query.sql("duckdb")).fetchall()]


def base_entry(
    con: duckdb.DuckDBPyConnection, table_name: str, registered: Collection[int]
) -> LedgerEntry | None:
    """The newest registered version built from landing (None: the first such build)."""
    found = [e for e in entries(con, table_name) if e.version in registered]
    return found[-1] if found else None


def pending_batches(
    con: duckdb.DuckDBPyConnection, landing_table: str, base: LedgerEntry | None
) -> tuple[str, ...]:
    """Complete landed batches the base does not hold, oldest first."""
    if not landed(con, landing_table):
        return ()
    batches = complete_batches(con, landing_table)
    if base is None or base.through_batch is None:
        return batches
    through = float(base.through_batch)
    return tuple(b for b in batches if float(b) > through)


def landed(con: duckdb.DuckDBPyConnection, landing_table: str) -> bool:
    """Whether dlt ever landed the table (its table and dlt's load records exist)."""
    query = (
        exp.select(exp.Count(this=exp.Star()))
        .from_(exp.table_("tables", db="information_schema"))
        .where(
            exp.and_(
                exp.column("table_schema").eq(exp.Literal.string(LANDING_DATASET)),
                exp.column("table_name").isin(
                    exp.Literal.string(landing_table), exp.Literal.string("_dlt_loads")
                ),
            )
        )
    )
    ((found,),) = con.execute(query.sql("duckdb")).fetchall()
    return int(found) == 2


def record(con: duckdb.DuckDBPyConnection, entry: LedgerEntry) -> None:
    """Write the version's row (replacing one a killed attempt left under the same number)."""
    _ensure(con)
    same = exp.and_(
        exp.column("table_name").eq(exp.Literal.string(entry.table_name)),
        exp.column("version").eq(exp.Literal.number(entry.version)),
    )
    values = exp.Tuple(
        expressions=[
            exp.Literal.string(entry.table_name),
            exp.Literal.number(entry.version),
            exp.null() if entry.base_version is None else exp.Literal.number(entry.base_version),
            exp.null() if entry.through_batch is None else exp.Literal.string(entry.through_batch),
            exp.Literal.number(entry.batches),
        ]
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(exp.delete(_table(), where=same).sql("duckdb"))
        con.execute(exp.insert(exp.Values(expressions=[values]), _table()).sql("duckdb"))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
