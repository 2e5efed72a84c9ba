"""``spyne sample advance``: move the sample ERP forward by N business days, atomically.

The facts are read and the changes applied in one transaction of the source itself (DuckDB's
or PostgreSQL's), so a run killed at any instant leaves the source before or after the whole
advance, never in between; on PostgreSQL the sample's advisory lock keeps two writers apart.
What changes is computed by :mod:`orchestration.sample.changes` from the facts and a seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from sqlglot import exp

from orchestration.sample.changes import Changes, Facts, as_tables, plan_changes
from orchestration.sources import PostgresSource, SourceLocation
from policies.errors import NotFound, ValidationFailed

_STAGED = "spyne_advance_rows"


@dataclass(frozen=True)
class AdvanceSummary:
    source: SourceLocation
    days: tuple[date, ...]
    new_orders: int
    new_lines: int
    updated_rows: int
    late_orders: int
    duplicated_lines: int


class _Session(Protocol):
    schema: str

    def rows(self, query: exp.Query) -> list[tuple[Any, ...]]: ...

    def execute(self, statement: exp.Expr) -> None: ...

    def append(self, table: str, rows: pa.Table) -> None: ...


class _DuckDBSession:
    schema = "main"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def rows(self, query: exp.Query) -> list[tuple[Any, ...]]:
        return self.con.execute(query.sql("duckdb")).fetchall()

    def execute(self, statement: exp.Expr) -> None:
        self.con.execute(statement.sql("duckdb"))

    def append(self, table: str, rows: pa.Table) -> None:
        self.con.register(_STAGED, rows)
        try:
            columns = [exp.to_identifier(c, quoted=True) for c in rows.column_names]
            select = exp.select(*[exp.column(c, quoted=True) for c in rows.column_names])
            self.execute(
                exp.insert(
                    select.from_(_STAGED), exp.table_(table, db=self.schema), columns=columns
                )
            )
        finally:
            self.con.unregister(_STAGED)


class _PostgresSession:
    def __init__(self, cur: Any, schema: str) -> None:
        self.cur, self.schema = cur, schema

    def rows(self, query: exp.Query) -> list[tuple[Any, ...]]:
        self.cur.execute(query.sql("postgres"))
        return list(self.cur.fetchall())

    def execute(self, statement: exp.Expr) -> None:
        self.cur.execute(statement.sql("postgres"))

    def append(self, table: str, rows: pa.Table) -> None:
        from orchestration.sources.postgres import copy_in

        copy_in(self.cur, self.schema, table, rows)


@contextmanager
def _session(source: SourceLocation) -> Iterator[_Session]:
    """One transaction on the source: committed at the end of the block, else rolled back."""
    if isinstance(source, PostgresSource):
        from orchestration.sample.postgres import lock_sample
        from orchestration.sources.postgres import connection

        with connection(source) as con, con.cursor() as cur:
            lock_sample(cur)
            yield _PostgresSession(cur, source.schema)
        return
    if not Path(source).is_file():
        raise NotFound(
            f"the sample source {source} does not exist; run `spyne sample generate` first",
            details={"path": str(source)},
        )
    con = duckdb.connect(str(source))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield _DuckDBSession(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _ids(s: _Session, table: str, where: exp.Expr | None = None) -> tuple[int, ...]:
    query = exp.select("id").distinct().from_(exp.table_(table, db=s.schema)).order_by("id")
    if where is not None:
        query = query.where(where)
    return tuple(int(i) for (i,) in s.rows(query))


def _state_in(*states: str) -> exp.Expr:
    return exp.column("state").isin(*[exp.Literal.string(x) for x in states])


def _facts(s: _Session) -> Facts:
    def one(query: exp.Query) -> Any:
        return s.rows(query)[0][0]

    def table(name: str) -> exp.Table:
        return exp.table_(name, db=s.schema)

    newest = exp.select(exp.func("max", exp.column("write_date")))
    clock = max(
        one(newest.from_(table(t))) for t in ("sale_order", "sale_order_line", "res_partner")
    )
    if clock is None:
        raise ValidationFailed(
            "the sample source holds no orders to advance from; run `spyne sample generate`",
            details={"table": "sale_order"},
        )
    products = s.rows(
        exp.select("id", "list_price", "default_code", "name")
        .distinct()
        .from_(table("product_product"))
        .where(exp.column("active"))
        .order_by("id", "list_price", "default_code", "name")
    )
    by_id: dict[int, tuple[int, int, str]] = {}
    for pid, price, code, name in products:  # the first row per id, in a fixed order
        label = f"[{code}] {name}" if code else str(name)
        by_id.setdefault(int(pid), (int(pid), int(price * 100), label))
    highest = exp.select(
        exp.func("coalesce", exp.func("max", exp.column("id")), exp.Literal.number(0))
    )
    return Facts(
        clock_s=int((clock.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()),
        next_order_id=int(one(highest.from_(table("sale_order")))) + 1,
        next_line_id=int(one(highest.from_(table("sale_order_line")))) + 1,
        customers=_ids(s, "res_partner", exp.column("customer_rank") > 0),
        products=tuple(by_id[k] for k in sorted(by_id)),
        open_orders=_ids(s, "sale_order", _state_in("draft", "sent")),
        confirmed_orders=_ids(s, "sale_order", _state_in("sale")),
        partners=_ids(s, "res_partner"),
    )


def _update(s: _Session, table: str, row_id: int, column: str, value: str, at: datetime) -> None:
    stamp = exp.cast(exp.Literal.string(at.isoformat(sep=" ")), "timestamp")
    s.execute(
        exp.update(
            exp.table_(table, db=s.schema),
            {column: exp.Literal.string(value), "write_date": stamp},
            where=exp.column("id").eq(exp.Literal.number(row_id)),
        )
    )


def apply_changes(s: _Session, changes: Changes) -> None:
    for table, rows in as_tables(changes).items():
        if rows.num_rows:
            s.append(table, rows)
    for oid, state, at in changes.order_updates:
        _update(s, "sale_order", oid, "state", state, at)
    for pid, phone, at in changes.partner_updates:
        _update(s, "res_partner", pid, "phone", phone, at)


def advance(source: SourceLocation, days: int, seed: int = 42) -> AdvanceSummary:
    """Append the next ``days`` business days to the source, in one transaction."""
    if days < 1:
        raise ValidationFailed(
            f"advance by at least 1 business day, got {days}; pass a positive --days",
            details={"days": days},
        )
    with _session(source) as s:
        changes = plan_changes(_facts(s), days, seed)
        apply_changes(s, changes)
    return AdvanceSummary(
        source=source,
        days=tuple(changes.days),
        new_orders=len(changes.orders),
        new_lines=len(changes.lines) - changes.duplicated_lines,
        updated_rows=len(changes.order_updates) + len(changes.partner_updates),
        late_orders=changes.late_orders,
        duplicated_lines=changes.duplicated_lines,
    )
