"""The embedded warehouse (DuckDB): versions, canonical views, manifests, ingestion copies.

Every statement is built with sqlglot expressions; identifiers come from validated
TableRefs, never from raw user strings. Connections are short-lived so the file lock
is free for dbt (another process) between steps; a busy lock is retried.

The file is created only by :meth:`DuckDBWarehouse.create` (``spyne init``): opening a
missing file is an error that names it, never a new empty warehouse that would make every
ACTIVE table in the catalog point at nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from policies.drift import Column
from policies.errors import NotFound, NotInitialized, StorageUnavailable, WarehouseBusy
from policies.naming import Layer, TableRef, parse_version_identifier, shadow_schema

LOCK_WAIT_SECONDS = 60.0
# One lock per warehouse file in this process: DuckDB's file lock keeps other processes out
# of an act, this keeps other threads of the same process out (they share one database).
_ACT_LOCKS: dict[str, threading.RLock] = {}
_ACT_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class VersionManifest:
    """What a version contains, recorded once at build time (O(rows), never at promotion)."""

    row_count: int
    schema: tuple[Column, ...]
    content_hash: str

    def schema_dicts(self) -> list[dict[str, object]]:
        return [
            {"name": c.name, "data_type": c.data_type, "nullable": c.nullable} for c in self.schema
        ]


def _table(schema: str, name: str) -> exp.Table:
    return exp.table_(
        exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )


def _sql(expression: exp.Expression) -> str:
    return expression.sql(dialect="duckdb")


def version_table(ref: TableRef, version: int) -> exp.Table:
    return _table(ref.shadow_schema, ref.version_identifier(version))


def canonical_table(ref: TableRef) -> exp.Table:
    return _table(ref.layer.value, ref.name)


def _create_schema(schema: str) -> str:
    return _sql(exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True))


def _create_version(
    con: duckdb.DuckDBPyConnection, ref: TableRef, version: int, select: exp.Expr
) -> None:
    con.execute(_create_schema(ref.shadow_schema))
    con.execute(_sql(exp.Create(this=version_table(ref, version), kind="TABLE", expression=select)))


@dataclass(frozen=True)
class WarehouseInventory:
    versions: dict[str, list[int]]  # canonical name -> physical versions present
    views: dict[str, int | None]  # canonical name -> version its view selects (None: unreadable)


def _copy_comments(con: duckdb.DuckDBPyConnection, source: exp.Table, ref: TableRef) -> None:
    """Carry a version's descriptions over to the canonical view (metadata only, O(columns))."""
    params = [source.db, source.name]
    table_comment = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ?", params
    ).fetchone()
    columns = con.execute(
        "select column_name, comment from duckdb_columns() "
        "where schema_name = ? and table_name = ? and comment is not null",
        params,
    ).fetchall()
    view = canonical_table(ref)
    if table_comment and table_comment[0]:
        con.execute(
            _sql(
                exp.Comment(this=view, kind="VIEW", expression=exp.Literal.string(table_comment[0]))
            )
        )
    for column, comment in columns:
        target = exp.column(column, table=ref.name, db=ref.layer.value, quoted=True)
        con.execute(
            _sql(exp.Comment(this=target, kind="COLUMN", expression=exp.Literal.string(comment)))
        )


def _version_in_view_sql(sql: str, ref: TableRef) -> int | None:
    """Which version a canonical view selects from, read from its own definition."""
    for table in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Table):
        if table.db == ref.shadow_schema:
            parsed = parse_version_identifier(table.name)
            if parsed and parsed[0] == ref.name:
                return parsed[1]
    return None


class DuckDBWarehouse:
    dialect = "duckdb"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._held = threading.local()

    def create(self) -> bool:
        """Create an empty warehouse file, readable by its owner only; False if it exists."""
        if self.path.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.path)) as con:
            con.execute("CHECKPOINT")
        os.chmod(self.path, 0o600)
        return True

    def exists(self) -> bool:
        return self.path.is_file()

    # -- connections ---------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the warehouse for one act: no other process or thread can act until it ends.

        Inside the block, an intent left pending by anyone else belongs to an act that is no
        longer running (it would hold this lock), so recovery may settle it.
        """
        key = str(self.path.resolve())
        with _ACT_LOCKS_GUARD:
            lock = _ACT_LOCKS.setdefault(key, threading.RLock())
        with lock, self.hold():
            yield

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Reuse one connection for every call inside the block (re-entrant, per thread).

        Opening a DuckDB file costs a fixed ~15 ms; an operation that reads and swaps in
        several steps pays it once. Outside the block connections stay short-lived so the
        file lock is free for dbt in another process.
        """
        if getattr(self._held, "con", None) is not None:
            yield
            return
        with self._open(read_only=False) as con:
            self._held.con = con
            try:
                yield
            finally:
                self._held.con = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        held = getattr(self._held, "con", None)
        if held is not None:
            yield held
            return
        with self._open(read_only=read_only) as con:
            yield con

    @contextmanager
    def _open(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.is_file():
            raise NotInitialized(
                f"the warehouse file {self.path} does not exist. For a new install run "
                "`spyne init`; if it held data, restore it from a backup (the catalog still "
                "lists its tables)",
                details={"path": str(self.path)},
            )
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as e:  # another process holds the write lock, or worse
                text = str(e)
                if "lock" not in text.lower():
                    raise StorageUnavailable(
                        f"the warehouse file {self.path} cannot be opened: "
                        f"{text.splitlines()[0]}; restore it from a backup",
                        details={"path": str(self.path), "error": text.splitlines()[0]},
                    ) from e
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"the warehouse {self.path} is locked by another process; retry when "
                        "the running build finishes",
                        details={"path": str(self.path), "error": str(e)},
                    ) from e
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield con
        finally:
            con.close()

    # -- versions ------------------------------------------------------------------------
    def versions(self, ref: TableRef) -> list[int]:
        with self.connect() as con:
            rows = con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [ref.shadow_schema],
            ).fetchall()
        found = []
        for (name,) in rows:
            parsed = parse_version_identifier(name)
            if parsed and parsed[0] == ref.name:
                found.append(parsed[1])
        return sorted(found)

    def version_exists(self, ref: TableRef, version: int) -> bool:
        return version in self.versions(ref)

    def manifest(self, ref: TableRef, version: int) -> VersionManifest:
        table = version_table(ref, version)
        with self.connect() as con:
            cols = con.execute(
                "select column_name, data_type, is_nullable from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [ref.shadow_schema, ref.version_identifier(version)],
            ).fetchall()
            if not cols:
                raise NotFound(
                    f"version {version} of {ref} does not exist in the warehouse",
                    details={"table": str(ref), "version": version},
                )
            # Order-independent content fingerprint: sum of per-row hashes (duplicates count).
            alias = exp.to_identifier("t")
            query = exp.select(
                exp.func("count", exp.Star()),
                exp.func(
                    "coalesce",
                    exp.func("sum", exp.cast(exp.func("hash", alias), "HUGEINT")),
                    exp.Literal.number(0),
                ),
            ).from_(table.as_("t"))
            row = con.execute(_sql(query)).fetchone()
        assert row is not None
        row_count, row_hash = int(row[0]), int(row[1])
        schema = tuple(Column(name=c[0], data_type=c[1], nullable=c[2] == "YES") for c in cols)
        payload = json.dumps(
            {
                "schema": [[c.name, c.data_type] for c in schema],
                "rows": row_count,
                "hash": str(row_hash),
            },
            sort_keys=True,
        )
        return VersionManifest(row_count, schema, hashlib.sha256(payload.encode()).hexdigest())

    def create_version(self, ref: TableRef, version: int, query: exp.Query | str) -> None:
        """Write version N of a table from a SELECT (sqlglot expression, or fixed SQL it parses)."""
        select = sqlglot.parse_one(query, read="duckdb") if isinstance(query, str) else query
        with self.connect() as con:
            _create_version(con, ref, version, select)

    def drop_version(self, ref: TableRef, version: int) -> None:
        with self.connect() as con:
            con.execute(
                _sql(exp.Drop(tables=[version_table(ref, version)], kind="TABLE", exists=True))
            )

    # -- canonical views -----------------------------------------------------------------
    def swap_view(self, ref: TableRef, version: int, *, first: bool = True) -> None:
        """Point <layer>.<table> at version N: one DDL statement, no data touched.

        Callers know the previous version from the catalog (under its lock), so nothing is
        read here: the cost is the same whatever the table's size or the warehouse's.
        """
        create = exp.Create(
            this=canonical_table(ref),
            kind="VIEW",
            replace=True,
            expression=exp.select("*").from_(version_table(ref, version)),
        )
        with self.connect() as con:
            if first:  # the layer schema exists once any view of it was published
                con.execute(_create_schema(ref.layer.value))
            try:
                # DuckDB binds a view when it is created: a missing version fails here.
                con.execute(_sql(create))
            except duckdb.CatalogException as e:
                raise NotFound(
                    f"version {version} of {ref} is not in the warehouse (dropped or never built)",
                    details={
                        "table": str(ref),
                        "version": version,
                        "error": str(e).splitlines()[0],
                    },
                ) from e

    def drop_view(self, ref: TableRef) -> None:
        with self.connect() as con:
            con.execute(_sql(exp.Drop(tables=[canonical_table(ref)], kind="VIEW", exists=True)))

    def point_view(self, ref: TableRef, version: int | None) -> None:
        """Make the canonical view show ``version``, or remove it (None: nothing is canonical).

        The view gets the version's table and column descriptions, so what dbt documented
        is what people see on the canonical name.
        """
        if version is None:
            self.drop_view(ref)
            return
        with self.connect() as con:
            self.swap_view(ref, version)
            _copy_comments(con, version_table(ref, version), ref)

    def inventory(self) -> WarehouseInventory:
        """Every version table and canonical view Spyne's naming recognises (for `spyne doctor`)."""
        versions: dict[str, list[int]] = {}
        views: dict[str, int | None] = {}
        layers = {layer.value: layer for layer in Layer}
        shadows = {shadow_schema(layer): layer for layer in Layer}
        with self.connect() as con:
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE'"
            ).fetchall():
                parsed = parse_version_identifier(name) if schema in shadows else None
                if parsed:
                    canonical = TableRef(shadows[schema], parsed[0]).canonical
                    versions.setdefault(canonical, []).append(parsed[1])
            for schema, name, sql in con.execute(
                "select schema_name, view_name, sql from duckdb_views() where not internal"
            ).fetchall():
                if schema in layers:
                    ref = TableRef(layers[schema], name)
                    views[ref.canonical] = _version_in_view_sql(sql, ref)
        return WarehouseInventory(
            {k: sorted(v) for k, v in versions.items()}, dict(sorted(views.items()))
        )

    def view_version(self, ref: TableRef) -> int | None:
        """Which version the canonical view points at, read from the view's own SQL."""
        with self.connect() as con:
            return self._view_version(con, ref)

    @staticmethod
    def _view_version(con: duckdb.DuckDBPyConnection, ref: TableRef) -> int | None:
        # Filtering duckdb_views() in SQL is slower than reading the (few) views and filtering here.
        for schema, name, sql in con.execute(
            "select schema_name, view_name, sql from duckdb_views() where not internal"
        ).fetchall():
            if schema == ref.layer.value and name == ref.name:
                return _version_in_view_sql(sql, ref)
        return None

    # -- ingestion -----------------------------------------------------------------------
    def copy_from_source(
        self, source_path: Path, source_table: str, ref: TableRef, version: int
    ) -> None:
        """Land a READ_ONLY source table as a new bronze version (the source is attached read-only)."""
        if not source_path.exists():
            raise NotFound(
                f"the source database {source_path} does not exist; run `spyne sample generate`",
                details={"path": str(source_path)},
            )
        alias = "spyne_src"
        attach = exp.Attach(
            this=exp.alias_(exp.Literal.string(str(source_path)), alias),
            expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))],
        )
        src = exp.table_(exp.to_identifier(source_table, quoted=True), db="main", catalog=alias)
        with self.connect() as con:
            con.execute(_sql(attach))
            try:
                _create_version(con, ref, version, exp.select("*").from_(src))
            finally:
                con.execute(_sql(exp.Detach(this=exp.to_identifier(alias))))

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Fixed SQL for internal reads (tests, summaries); never user input."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()
