"""The embedded warehouse (DuckDB): versions, canonical views, manifests, ingestion copies.

Every statement comes from :mod:`orchestration.warehouse.statements`; identifiers come from
validated TableRefs, never from raw user strings. Connections are short-lived so the file lock
is free for dbt (another process) between steps; a busy lock is retried.

The file is created only by :meth:`DuckDBWarehouse.create` (``spyne init``): opening a
missing file is an error that names it, never a new empty warehouse that would make every
ACTIVE table in the catalog point at nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import sqlglot
from sqlglot import exp

from orchestration.warehouse.interface import (
    CostEstimate,
    Descriptions,
    JoinSide,
    QueryResult,
    RowEstimate,
    VersionManifest,
    WarehouseInventory,
    manifest_of,
)
from orchestration.warehouse.profiling import ProfileStatements, join_stats, profile_table
from orchestration.warehouse.reading import (
    inventory_of,
    read_only_select,
    version_in_view_sql,
    versions_by_table,
)
from orchestration.warehouse.statements import Dialect, Statements
from policies.drift import Column
from policies.errors import (
    InvalidTransition,
    NotFound,
    NotInitialized,
    StorageUnavailable,
    WarehouseBusy,
)
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats
from policies.naming import Layer, TableRef
from policies.settings import WarehouseKind

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestration.sources import SourceLocation
    from orchestration.warehouse.upserts import UpsertKeys

LOCK_WAIT_SECONDS = 60.0
ROWS_NAME = "spyne_rows"  # a batch of rows is registered on the connection under this name
SOURCE_ALIAS = "spyne_src"
# One lock per warehouse file in this process: DuckDB's file lock keeps other processes out
# of an act, this keeps other threads of the same process out (they share one database).
_ACT_LOCKS: dict[str, threading.RLock] = {}
_ACT_LOCKS_GUARD = threading.Lock()
STATEMENTS = Statements(Dialect.DUCKDB)
PROFILING = ProfileStatements(STATEMENTS)


STAGED_PREFIX = "_spyne_staged__"  # a batch registered for the queries of one ingestion


def version_table(ref: TableRef, version: int) -> exp.Table:
    return STATEMENTS.version_table(ref, version)


def canonical_table(ref: TableRef) -> exp.Table:
    return STATEMENTS.canonical_table(ref)


def _run(con: duckdb.DuckDBPyConnection, *statements: exp.Expr) -> None:
    for statement in statements:
        con.execute(STATEMENTS.render(statement))


@contextmanager
def _written_once(ref: TableRef, version: int) -> Iterator[None]:
    """Versions are immutable: writing one that exists is refused, typed."""
    try:
        yield
    except duckdb.CatalogException as e:
        if "already exists" not in str(e):
            raise
        raise InvalidTransition(
            f"version {version} of {ref} already exists: versions are written once; build the "
            "next version instead",
            details={"table": str(ref), "version": version},
        ) from e


def _rows(con: duckdb.DuckDBPyConnection, query: exp.Expr) -> list[tuple[object, ...]]:
    return con.execute(STATEMENTS.render(query)).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, ref: TableRef, version: int) -> tuple[Column, ...]:
    rows = _rows(con, STATEMENTS.list_columns(ref, version))
    return tuple(Column(str(n), str(t), nullable == "YES") for n, t, nullable in rows)


def _descriptions(
    con: duckdb.DuckDBPyConnection, ref: TableRef, version: int | None
) -> Descriptions:
    if version is None:
        schema, name = ref.layer.value, ref.name
    else:
        schema, name = ref.shadow_schema, ref.version_identifier(version)
    read = STATEMENTS.version_descriptions(schema, name, view=version is None)
    rows = sorted(_rows(con, read), key=lambda r: int(str(r[0])))
    table = [str(text) for position, _, text in rows if position == 0 and text]
    return Descriptions(
        table[0] if table else None,
        tuple((str(c), str(d) if d else None) for position, c, d in rows if position != 0),
    )


def read_source_table(source_path: Path, table: str, where: exp.Expr | None = None) -> pa.Table:
    """A READ_ONLY source table (a DuckDB file) as Arrow rows, the file opened read-only."""
    if not source_path.exists():
        raise NotFound(
            f"the source database {source_path} does not exist; run `spyne sample generate`",
            details={"path": str(source_path)},
        )
    with duckdb.connect(str(source_path), read_only=True) as con:
        query = STATEMENTS.read_source(None, table)
        query = query if where is None else query.where(where)
        return con.sql(STATEMENTS.render(query)).to_arrow_table()


def read_source_columns(source_path: Path, tables: Sequence[str]) -> dict[str, tuple[Column, ...]]:
    """The live columns of READ_ONLY source tables (a DuckDB file, opened read-only), in order.

    One information-schema read for every table, no data read; a table the source lacks is
    absent from the answer.
    """
    if not source_path.exists():
        raise NotFound(
            f"the source database {source_path} does not exist; run `spyne sample generate`",
            details={"path": str(source_path)},
        )
    wanted = set(tables)
    out: dict[str, list[Column]] = {}
    with duckdb.connect(str(source_path), read_only=True) as con:
        for table, name, data_type, nullable in _rows(con, STATEMENTS.list_source_columns()):
            if table in wanted:
                out.setdefault(str(table), []).append(
                    Column(str(name), str(data_type), nullable == "YES")
                )
    return {t: tuple(cols) for t, cols in out.items()}


class DuckDBWarehouse:
    kind = WarehouseKind.DUCKDB
    dialect = Dialect.DUCKDB.value

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._held = threading.local()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def location(self) -> str:
        return str(self._path)

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

        The held read-write connection is DuckDB's file lock (other processes wait for it);
        a per-file RLock keeps other threads of this process out. Inside the block, an intent
        left pending by anyone else belongs to an act that is no longer running (it would
        hold this lock), so recovery may settle it.
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
            rows = _rows(con, STATEMENTS.list_versions(ref))
        return versions_by_table(ref, [str(name) for (name,) in rows])

    def version_exists(self, ref: TableRef, version: int) -> bool:
        return version in self.versions(ref)

    def columns(self, ref: TableRef, version: int) -> tuple[Column, ...]:
        with self.connect() as con:
            return _columns(con, ref, version)

    def manifest(self, ref: TableRef, version: int) -> VersionManifest:
        with self.connect() as con:
            schema = _columns(con, ref, version)
            if not schema:
                raise NotFound(
                    f"version {version} of {ref} does not exist in the warehouse",
                    details={"table": str(ref), "version": version},
                )
            from orchestration.warehouse.duckdb_upserts import stored_stats

            # An upserted version recorded its count and hash when written (O(batch)).
            stored = stored_stats(con, ref, version) if ref.layer == Layer.BRONZE else None
            if stored is None:
                ((row_count, row_hash), *_) = _rows(con, STATEMENTS.content_hash(ref, version))
                stored = int(str(row_count)), int(str(row_hash))
        return manifest_of(self.kind, stored[0], schema, stored[1])

    def descriptions(self, ref: TableRef, version: int | None) -> Descriptions:
        with self.connect() as con:
            return _descriptions(con, ref, version)

    def create_version(self, ref: TableRef, version: int, query: exp.Query | str) -> None:
        """Write version N of a table from a SELECT (sqlglot expression, or fixed SQL it parses)."""
        select = read_only_select(
            sqlglot.parse_one(query, read=self.dialect) if isinstance(query, str) else query
        )
        with self.connect() as con, _written_once(ref, version):
            _run(
                con,
                STATEMENTS.create_schema(ref.shadow_schema),
                STATEMENTS.create_version(ref, version, select),
            )

    def create_version_from_rows(
        self, ref: TableRef, version: int, rows: pa.Table, *, base_version: int | None = None
    ) -> None:
        """DuckDB has no clones: a version built on a previous one copies it, in one transaction."""
        source = exp.Table(this=exp.to_identifier(ROWS_NAME))
        with self.connect() as con, _written_once(ref, version):
            con.register(ROWS_NAME, rows)
            try:
                _run(con, STATEMENTS.create_schema(ref.shadow_schema))
                con.execute("BEGIN TRANSACTION")
                try:
                    if base_version is None:
                        _run(
                            con,
                            STATEMENTS.create_version(ref, version, exp.select("*").from_(source)),
                        )
                    else:
                        _run(
                            con,
                            STATEMENTS.clone_version(ref, base_version, version),
                            STATEMENTS.append_rows(ref, version, rows.column_names, source),
                        )
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.unregister(ROWS_NAME)

    @contextmanager
    def staged_rows(self, ref: TableRef, rows: pa.Table) -> Iterator[exp.Table]:
        """The Arrow table read in place, on the connection the block holds."""
        name = f"{STAGED_PREFIX}{ref.name}"
        with self.hold(), self.connect() as con:
            con.register(name, rows)
            try:
                yield exp.table_(name, quoted=True)
            finally:
                con.unregister(name)

    def select_arrow(self, query: exp.Query, *, table: TableRef | None = None) -> pa.Table:
        select = read_only_select(query)
        with self.connect() as con:
            return con.sql(select.sql(self.dialect)).to_arrow_table()

    def drop_version(self, ref: TableRef, version: int) -> None:
        from orchestration.warehouse.duckdb_upserts import drop_segmented

        with self.connect() as con:
            if not drop_segmented(con, ref, version):
                _run(con, STATEMENTS.drop_version(ref, version))

    def upsert_version(
        self,
        ref: TableRef,
        version: int,
        rows: pa.Table,
        *,
        keys: UpsertKeys,
        base_version: int | None = None,
    ) -> None:
        """One segment (the batch, latest per key) and one merge view, in one transaction."""
        from orchestration.warehouse.duckdb_upserts import upsert

        with self.connect() as con, _written_once(ref, version):
            con.register(ROWS_NAME, rows)
            try:
                upsert(con, ref, version, exp.table_(ROWS_NAME), keys, base_version)
            finally:
                con.unregister(ROWS_NAME)

    def compact_version(self, ref: TableRef, version: int) -> bool:
        from orchestration.warehouse.duckdb_upserts import compact

        with self.connect() as con:
            return compact(con, ref, version)

    # -- canonical views -----------------------------------------------------------------
    def swap_view(self, ref: TableRef, version: int, *, first: bool = True) -> None:
        """Point <layer>.<table> at version N: one DDL statement, no data touched.

        Callers know the previous version from the catalog (under its lock), so nothing is
        read here: the cost is the same whatever the table's size or the warehouse's.
        """
        with self.connect() as con:
            self._swap(con, ref, version, Descriptions(None, ()), first=first)

    def _swap(
        self,
        con: duckdb.DuckDBPyConnection,
        ref: TableRef,
        version: int,
        described: Descriptions,
        *,
        first: bool = True,
    ) -> None:
        if first:  # the layer schema exists once any view of it was published
            _run(con, STATEMENTS.create_schema(ref.layer.value))
        view, *comments = STATEMENTS.point_view(ref, version, described)
        try:
            # DuckDB binds a view when it is created: a missing version fails here.
            _run(con, view)
        except duckdb.CatalogException as e:
            raise NotFound(
                f"version {version} of {ref} is not in the warehouse (dropped or never built)",
                details={"table": str(ref), "version": version, "error": str(e).splitlines()[0]},
            ) from e
        _run(con, *comments)

    def drop_view(self, ref: TableRef) -> None:
        with self.connect() as con:
            _run(con, STATEMENTS.drop_view(ref))

    def point_view(self, ref: TableRef, version: int | None) -> None:
        """Make the canonical view show ``version``, or remove it (None: nothing is canonical).

        The view gets the version's table and column descriptions, so what dbt documented
        is what people see on the canonical name.
        """
        if version is None:
            self.drop_view(ref)
            return
        with self.connect() as con:
            self._swap(con, ref, version, _descriptions(con, ref, version))

    def inventory(self) -> WarehouseInventory:
        """Every version table and canonical view Spyne's naming recognises (for `spyne doctor`)."""
        with self.connect() as con:
            tables = _rows(con, STATEMENTS.list_all_versions())
            views = _rows(con, STATEMENTS.list_views())
        return inventory_of(tables, views, self.dialect)

    def view_version(self, ref: TableRef) -> int | None:
        """Which version the canonical view points at, read from the view's own SQL."""
        with self.connect() as con:
            rows = _rows(con, STATEMENTS.list_views(ref))
        return version_in_view_sql(str(rows[0][2]), ref, self.dialect) if rows else None

    # -- ingestion -----------------------------------------------------------------------
    def copy_from_source(
        self, source: SourceLocation, source_table: str, ref: TableRef, version: int
    ) -> None:
        """Land a READ_ONLY source table as a new bronze version (a DuckDB file is attached
        read-only; a PostgreSQL source is read with one ``COPY`` and loaded as rows)."""
        if not isinstance(source, Path):
            from orchestration.sources import read_source_rows

            self.create_version_from_rows(ref, version, read_source_rows(source, source_table))
            return
        source_path = source
        if not source_path.exists():
            raise NotFound(
                f"the source database {source_path} does not exist; run `spyne sample generate`",
                details={"path": str(source_path)},
            )
        with self.connect() as con, _written_once(ref, version):
            _run(con, STATEMENTS.attach_source(str(source_path), SOURCE_ALIAS))
            try:
                _run(
                    con,
                    STATEMENTS.create_schema(ref.shadow_schema),
                    STATEMENTS.create_version(
                        ref, version, STATEMENTS.read_source(SOURCE_ALIAS, source_table)
                    ),
                )
            finally:
                _run(con, STATEMENTS.detach_source(SOURCE_ALIAS))

    def source_columns(
        self, source_path: Path, tables: Sequence[str]
    ) -> dict[str, tuple[Column, ...]]:
        return read_source_columns(source_path, tables)

    # -- reads -----------------------------------------------------------------------------
    def profile(
        self, query: exp.Query, *, table: TableRef | None = None
    ) -> list[tuple[object, ...]]:
        select = read_only_select(query)
        with self.connect(read_only=True) as con:
            return _rows(con, select)

    def estimate(self, query: exp.Query) -> CostEstimate:
        """A local file is not metered: nothing to estimate."""
        read_only_select(query)
        return CostEstimate(bytes_processed=None, max_bytes_billed=None)

    def profile_table(self, ref: TableRef, version: int) -> TableProfile:
        with self.connect(read_only=True) as con:
            columns = _columns(con, ref, version)
            if not columns:
                raise NotFound(
                    f"version {version} of {ref} does not exist in the warehouse",
                    details={"table": str(ref), "version": version},
                )
            table = STATEMENTS.read_table(ref, version)
            return profile_table(
                lambda q: _rows(con, q), PROFILING, table, ref.canonical, version, columns
            )

    def join_stats(self, child: JoinSide, parent: JoinSide, *, samples: int = 3) -> JoinStats:
        with self.connect(read_only=True) as con:
            sides = []
            for side in (child, parent):
                names = [c.name for c in _columns(con, side.ref, side.version)]
                if not names:
                    raise NotFound(
                        f"version {side.version} of {side.ref} does not exist in the warehouse",
                        details={"table": str(side.ref), "version": side.version},
                    )
                table = STATEMENTS.read_table(side.ref, side.version)
                sides.append((table, side.columns, names))
            return join_stats(lambda q: _rows(con, q), PROFILING, sides[0], sides[1], samples)

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Fixed SQL for internal reads (tests, summaries); never user input."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    # -- ad-hoc queries ------------------------------------------------------------------------
    @contextmanager
    def _query_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Read-only, and no file, network or extension access whatever the SQL says."""
        if not self.path.is_file():
            raise NotInitialized(
                f"the warehouse file {self.path} does not exist; run `spyne init`",
                details={"path": str(self.path)},
            )
        con = duckdb.connect(str(self.path), read_only=True, config=QUERY_CONFIG)
        try:
            yield con
        finally:
            con.close()

    def read(self, query: exp.Query, *, max_rows: int) -> QueryResult:
        select = read_only_select(query)
        with self._query_connection() as con:
            cursor = con.execute(select.sql(dialect=self.dialect))
            columns = tuple(d[0] for d in cursor.description or ())
            rows = cursor.fetchmany(max_rows + 1)
        return QueryResult(columns, rows[:max_rows], None, len(rows) > max_rows)

    def estimate_rows(self, query: exp.Query) -> RowEstimate | None:
        select = read_only_select(query)
        with self._query_connection() as con:
            plan = con.execute(f"EXPLAIN (FORMAT JSON) {select.sql(dialect=self.dialect)}")
            found = plan.fetchall()
        return estimated_cardinality(str(found[0][1])) if found else None


# Connections for ad-hoc queries: DuckDB itself refuses files, URLs and extensions, so a call
# the SQL gate missed still cannot reach anything but the warehouse's own tables.
QUERY_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def estimated_cardinality(plan_json: str) -> RowEstimate | None:
    """From a DuckDB JSON plan: the topmost node's 'Estimated Cardinality' (the result) and the
    largest of any node (what a join may blow up to before an aggregate shrinks it)."""
    import json

    pending = list(json.loads(plan_json))
    result: int | None = None
    peak = 0
    while pending:
        node = pending.pop(0)
        value = (node.get("extra_info") or {}).get("Estimated Cardinality")
        if value is not None:
            try:
                rows = int(str(value).lstrip("~"))
            except ValueError:
                rows = None
            if rows is not None:
                result = rows if result is None else result
                peak = max(peak, rows)
        pending.extend(node.get("children") or [])
    return None if result is None else RowEstimate(result, peak)
