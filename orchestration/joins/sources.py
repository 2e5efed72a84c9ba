"""Where discovery reads tables from: the platform's warehouse, or any DuckDB file.

Both run the same statements (:mod:`orchestration.warehouse.profiling`). The platform source
reads the versions the catalog names, through the ``Warehouse`` interface; the file source opens
a DuckDB file read-only and needs no platform state at all (``spyne joins discover --duckdb``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
from sqlglot import exp

from orchestration.warehouse.interface import JoinSide, Warehouse
from orchestration.warehouse.profiling import ProfileStatements, join_stats, profile_table
from orchestration.warehouse.statements import Dialect, Statements
from policies.drift import Column
from policies.errors import NotFound, StorageUnavailable
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats
from policies.naming import TableRef, parse_table_ref

FILE_VERSION = 0  # a table in a plain DuckDB file has no Spyne version


@dataclass(frozen=True)
class SourceTable:
    name: str  # what candidates call it: `silver.orders`, or `main.orders` in a file
    version: int


class JoinSource(Protocol):
    kind: str

    def tables(self) -> list[SourceTable]: ...

    def profile(self, table: SourceTable) -> TableProfile: ...

    def join_stats(
        self,
        child: SourceTable,
        child_columns: Sequence[str],
        parent: SourceTable,
        parent_columns: Sequence[str],
    ) -> JoinStats: ...


class PlatformSource:
    """Tables the catalog lists, at the versions it names, read through the warehouse."""

    def __init__(self, warehouse: Warehouse, tables: Sequence[tuple[TableRef, int]]) -> None:
        self.kind = warehouse.kind.value
        self._warehouse = warehouse
        self._tables = [SourceTable(ref.canonical, version) for ref, version in tables]

    def tables(self) -> list[SourceTable]:
        return list(self._tables)

    def profile(self, table: SourceTable) -> TableProfile:
        return self._warehouse.profile_table(parse_table_ref(table.name), table.version)

    def join_stats(
        self,
        child: SourceTable,
        child_columns: Sequence[str],
        parent: SourceTable,
        parent_columns: Sequence[str],
    ) -> JoinStats:
        return self._warehouse.join_stats(
            JoinSide(parse_table_ref(child.name), child.version, tuple(child_columns)),
            JoinSide(parse_table_ref(parent.name), parent.version, tuple(parent_columns)),
        )


_STATEMENTS = Statements(Dialect.DUCKDB)
_PROFILING = ProfileStatements(_STATEMENTS)


class DuckDBFileSource:
    """Every base table of one schema of a DuckDB file, opened read-only."""

    kind = "duckdb-file"

    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str) -> None:
        self._con = con
        self._schema = schema
        self._columns: dict[str, list[Column]] = {}
        info = exp.Table(
            this=exp.to_identifier("columns"), db=exp.to_identifier("information_schema")
        )
        query = (
            exp.select("c.table_name", "c.column_name", "c.data_type")
            .from_(info.as_("c"))
            .join(
                exp.Table(
                    this=exp.to_identifier("tables"), db=exp.to_identifier("information_schema")
                ).as_("t"),
                on=exp.and_(
                    exp.column("table_name", "c").eq(exp.column("table_name", "t")),
                    exp.column("table_schema", "c").eq(exp.column("table_schema", "t")),
                ),
            )
            .where(exp.column("table_schema", "c").eq(exp.Literal.string(schema)))
            .where(exp.column("table_type", "t").eq(exp.Literal.string("BASE TABLE")))
            .order_by("c.table_name", "c.ordinal_position")
        )
        for table, column, data_type in self._run(query):
            self._columns.setdefault(str(table), []).append(
                Column(str(column), str(data_type), True)
            )
        if not self._columns:
            raise NotFound(
                f"the schema {schema!r} of this DuckDB file holds no tables; pick one with "
                "--schema NAME",
                details={"schema": schema},
            )

    @classmethod
    @contextmanager
    def open(cls, path: Path, schema: str = "main") -> Iterator[DuckDBFileSource]:
        if not path.is_file():
            raise NotFound(f"the DuckDB file {path} does not exist", details={"path": str(path)})
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            raise StorageUnavailable(
                f"the DuckDB file {path} cannot be opened read-only: {str(e).splitlines()[0]}",
                details={"path": str(path)},
            ) from e
        try:
            yield cls(con, schema)
        finally:
            con.close()

    def _run(self, query: exp.Query) -> list[tuple[object, ...]]:
        return self._con.cursor().execute(_STATEMENTS.render(query)).fetchall()

    def _table(self, name: str) -> exp.Table:
        return exp.Table(
            this=exp.to_identifier(name.split(".", 1)[1], quoted=True),
            db=exp.to_identifier(self._schema, quoted=True),
        )

    def tables(self) -> list[SourceTable]:
        return [SourceTable(f"{self._schema}.{t}", FILE_VERSION) for t in sorted(self._columns)]

    def profile(self, table: SourceTable) -> TableProfile:
        columns = self._columns[table.name.split(".", 1)[1]]
        return profile_table(
            self._run, _PROFILING, self._table(table.name), table.name, table.version, columns
        )

    def join_stats(
        self,
        child: SourceTable,
        child_columns: Sequence[str],
        parent: SourceTable,
        parent_columns: Sequence[str],
    ) -> JoinStats:
        def side(t: SourceTable, keys: Sequence[str]) -> tuple[exp.Table, Sequence[str], list[str]]:
            names = [c.name for c in self._columns[t.name.split(".", 1)[1]]]
            return self._table(t.name), keys, names

        return join_stats(
            self._run, _PROFILING, side(child, child_columns), side(parent, parent_columns)
        )
