"""Every statement Spyne sends to a warehouse, built once as sqlglot expressions per dialect.

One :class:`Statements` per warehouse: DuckDB names are ``"schema"."table"``; BigQuery names are
qualified with the project (``project.dataset.table``), information-schema views are read per
dataset or per region, and descriptions travel inside the view's own DDL (BigQuery has no
``COMMENT ON``). Where the dialects differ it is here and nowhere else; the adapters only run
what this module builds. :mod:`orchestration.warehouse.catalogue` lists every statement with
sample inputs, for the golden files and ``bench/warehouse_sql.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlglot import exp

from orchestration.warehouse.interface import SOURCE_VERSION, Descriptions
from policies.naming import Layer, TableRef, shadow_schema

VERSION_TABLE_TYPES = ("BASE TABLE", "CLONE")  # a BigQuery version may be a zero-copy clone
# A DuckDB version may be a view over its segments (an upsert, see upserts.py).
DUCKDB_VERSION_TYPES = ("BASE TABLE", "VIEW")
HASH_ALIAS = "t"


class Dialect(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


def _q(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _s(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _col(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name))


def _where(*conditions: exp.Expr) -> exp.Expr:
    return exp.and_(*conditions, copy=False) if len(conditions) > 1 else conditions[0]


def _eq(column: str, value: str) -> exp.EQ:
    return exp.EQ(this=_col(column), expression=_s(value))


def _in(column: str, values: Sequence[str]) -> exp.In:
    return exp.In(this=_col(column), expressions=[_s(v) for v in values])


def _query(
    columns: Sequence[str | exp.Expr],
    source: exp.Expr,
    where: exp.Expr | None = None,
    order: Sequence[str] = (),
) -> exp.Select:
    """A SELECT built node by node: nothing parsed, nothing copied (it is on every promotion)."""
    select = exp.Select(
        expressions=[
            exp.Star() if c == "*" else _col(c) if isinstance(c, str) else c for c in columns
        ]
    )
    select.set("from_", exp.From(this=source))
    if where is not None:
        select.set("where", exp.Where(this=where))
    if order:
        ordered = [exp.Ordered(this=_col(c), nulls_first=True) for c in order]
        select.set("order", exp.Order(expressions=ordered))
    return select


@dataclass(frozen=True)
class Statements:
    dialect: Dialect
    project: str | None = None  # BigQuery: every name is qualified with it
    region: str = "us"  # BigQuery: the region whose INFORMATION_SCHEMA lists every dataset

    def render(self, expression: exp.Expr) -> str:
        return expression.sql(dialect=self.dialect.value)

    # -- names -----------------------------------------------------------------------------
    def table(self, schema: str, name: str) -> exp.Table:
        catalog = _q(self.project) if self.project else None
        return exp.Table(this=_q(name), db=_q(schema), catalog=catalog)

    def version_table(self, ref: TableRef, version: int) -> exp.Table:
        return self.table(ref.shadow_schema, ref.version_identifier(version))

    def canonical_table(self, ref: TableRef) -> exp.Table:
        return self.table(ref.layer.value, ref.name)

    def read_table(self, ref: TableRef, version: int) -> exp.Table:
        """What profiling reads: a version, or (``SOURCE_VERSION``) a READ_ONLY table as it is."""
        if version == SOURCE_VERSION:
            return self.canonical_table(ref)
        return self.version_table(ref, version)

    def _info(self, view: str, dataset: str | None) -> exp.Table:
        """An information-schema view: DuckDB's one, or BigQuery's of a dataset or the region."""
        if self.dialect == Dialect.DUCKDB:
            return exp.Table(this=exp.to_identifier(view.lower()), db="information_schema")
        scope = dataset or f"region-{self.region.lower()}"
        table = exp.Table(
            this=_q(f"INFORMATION_SCHEMA.{view}"),
            db=_q(scope),
            catalog=_q(self.project or ""),
            alias=exp.TableAlias(this=exp.to_identifier("info")),
        )
        # BigQuery's own spelling, `p.dataset.INFORMATION_SCHEMA.X`, which parses back the same.
        table.meta["quoted_table"] = True
        return table

    # -- datasets, versions ------------------------------------------------------------------
    def create_schema(self, schema: str) -> exp.Create:
        """A DuckDB schema, or a BigQuery dataset (created in the location the job runs in)."""
        catalog = _q(self.project) if self.project else None
        this = exp.Table(db=_q(schema), catalog=catalog) if catalog else _q(schema)
        return exp.Create(this=this, kind="SCHEMA", exists=True)

    def create_version(self, ref: TableRef, version: int, select: exp.Query) -> exp.Create:
        return exp.Create(this=self.version_table(ref, version), kind="TABLE", expression=select)

    def clone_version(self, ref: TableRef, base: int, version: int) -> exp.Create:
        """BigQuery: a zero-copy clone. DuckDB has no clones: a copy (O(rows))."""
        target, source = self.version_table(ref, version), self.version_table(ref, base)
        if self.dialect == Dialect.BIGQUERY:
            return exp.Create(this=target, kind="TABLE", clone=exp.Clone(this=source))
        return exp.Create(this=target, kind="TABLE", expression=_query(["*"], source))

    def append_rows(
        self, ref: TableRef, version: int, columns: Sequence[str], source: exp.Table
    ) -> exp.Insert:
        """DuckDB: append registered rows by column name (BigQuery appends with a load job)."""
        return exp.insert(
            _query([exp.Column(this=_q(c)) for c in columns], source),
            self.version_table(ref, version),
            columns=[_q(c) for c in columns],
            copy=False,
        )

    def drop_version(self, ref: TableRef, version: int) -> exp.Drop:
        return exp.Drop(tables=[self.version_table(ref, version)], kind="TABLE", exists=True)

    # -- canonical views ---------------------------------------------------------------------
    def create_view(self, ref: TableRef, version: int) -> exp.Create:
        return exp.Create(
            this=self.canonical_table(ref),
            kind="VIEW",
            replace=True,
            expression=_query(["*"], self.version_table(ref, version)),
        )

    def point_view(self, ref: TableRef, version: int, described: Descriptions) -> list[exp.Expr]:
        """The swap, carrying the version's descriptions onto the canonical view.

        DuckDB: the view, then ``COMMENT ON`` it and its columns. BigQuery: one statement whose
        column list and OPTIONS carry the descriptions, so the view never shows undocumented.
        """
        view = self.create_view(ref, version)
        if not described.documented:
            return [view]
        if self.dialect == Dialect.BIGQUERY:
            return [self._described_view(view, described)]
        target = self.canonical_table(ref)
        out: list[exp.Expr] = [view]
        if described.table:
            out.append(exp.Comment(this=target, kind="VIEW", expression=_s(described.table)))
        for column, text in described.columns:
            if text:
                col = exp.column(column, table=ref.name, db=ref.layer.value, quoted=True)
                out.append(exp.Comment(this=col, kind="COLUMN", expression=_s(text)))
        return out

    @staticmethod
    def _described_view(view: exp.Create, described: Descriptions) -> exp.Create:
        def options(text: str) -> exp.Properties:
            return exp.Properties(
                expressions=[exp.Property(this=exp.var("description"), value=_s(text))]
            )

        columns: list[exp.Expr] = [
            exp.ColumnDef(this=_q(name), constraints=[exp.ColumnConstraint(kind=options(text))])
            if text
            else _q(name)
            for name, text in described.columns
        ]
        view.set("this", exp.Schema(this=view.this, expressions=columns))
        if described.table:
            view.set("properties", options(described.table))
        return view

    def drop_view(self, ref: TableRef) -> exp.Drop:
        return exp.Drop(tables=[self.canonical_table(ref)], kind="VIEW", exists=True)

    # -- information schema ------------------------------------------------------------------
    def _is_version(self) -> exp.Expr:
        if self.dialect == Dialect.DUCKDB:
            return _in("table_type", DUCKDB_VERSION_TYPES)
        return _in("table_type", VERSION_TABLE_TYPES)

    def list_versions(self, ref: TableRef) -> exp.Select:
        """Tables of a shadow schema (the caller keeps those named ``<table>__v<N>``)."""
        schema = ref.shadow_schema
        return _query(
            ["table_name"],
            self._info("TABLES", schema),
            _where(_eq("table_schema", schema), self._is_version()),
        )

    def list_columns(self, ref: TableRef, version: int) -> exp.Select:
        if version == SOURCE_VERSION:  # a READ_ONLY table, as it is
            schema, name = ref.layer.value, ref.name
        else:
            schema, name = ref.shadow_schema, ref.version_identifier(version)
        return _query(
            ["column_name", "data_type", "is_nullable"],
            self._info("COLUMNS", schema),
            _where(_eq("table_schema", schema), _eq("table_name", name)),
            ["ordinal_position"],
        )

    def list_all_versions(self) -> exp.Select:
        """Every table of every shadow schema (BigQuery: of the whole region, in one read)."""
        return _query(
            ["table_schema", "table_name"],
            self._info("TABLES", None),
            _where(_in("table_schema", [shadow_schema(x) for x in Layer]), self._is_version()),
            ["table_schema", "table_name"],
        )

    def list_views(self, ref: TableRef | None = None) -> exp.Select:
        """Canonical views and their definitions: one table's, or every layer's."""
        if ref is not None:
            scope: str | None = ref.layer.value
            condition = _where(_eq("table_schema", ref.layer.value), _eq("table_name", ref.name))
        else:
            scope = None
            condition = _in("table_schema", [layer.value for layer in Layer])
        return _query(
            ["table_schema", "table_name", "view_definition"],
            self._info("VIEWS", scope),
            condition,
            ["table_schema", "table_name"],
        )

    def list_datasets(self) -> exp.Select:
        names = [s for layer in Layer for s in (layer.value, shadow_schema(layer))]
        return _query(
            ["schema_name"],
            self._info("SCHEMATA", None),
            _in("schema_name", names),
            ["schema_name"],
        )

    def version_descriptions(self, schema: str, name: str, *, view: bool = False) -> exp.Union:
        """DuckDB: a table's (or view's) comment at position 0 and its columns' at 1..n, in one
        catalog read.

        Read from DuckDB's own catalog functions, twice as fast as its information schema, on
        the path of every promotion. BigQuery keeps descriptions as table metadata instead.
        """
        owner, key = ("duckdb_views", "view_name") if view else ("duckdb_tables", "table_name")
        position = exp.Add(this=_col("column_index"), expression=exp.Literal.number(1))
        columns = _query(
            [
                exp.Alias(this=position, alias=exp.to_identifier("position")),
                "column_name",
                "comment",
            ],
            exp.Table(this=exp.Anonymous(this="duckdb_columns")),
            _where(_eq("schema_name", schema), _eq("table_name", name)),
        )
        table = _query(
            [exp.Literal.number(0), exp.Null(), "comment"],
            exp.Table(this=exp.Anonymous(this=owner)),
            _where(_eq("schema_name", schema), _eq(key, name)),
        )
        return exp.Union(this=columns, expression=table, distinct=False)

    # -- contents --------------------------------------------------------------------------
    def content_hash(self, ref: TableRef, version: int) -> exp.Select:
        """Row count and an order-independent sum of row fingerprints, computed in the warehouse.

        DuckDB sums ``hash(row)``; BigQuery sums ``FARM_FINGERPRINT(TO_JSON_STRING(row))`` as
        BIGNUMERIC (an INT64 sum would overflow). A sum, not a XOR: duplicate rows count.
        Hashes are comparable within one warehouse kind only.
        """
        alias = exp.to_identifier(HASH_ALIAS)
        if self.dialect == Dialect.BIGQUERY:
            fingerprint = exp.func(
                "FARM_FINGERPRINT", exp.func("TO_JSON_STRING", exp.column(alias))
            )
            row_hash = exp.cast(fingerprint, "BIGNUMERIC", dialect="bigquery")
        else:
            row_hash = exp.cast(exp.func("hash", alias), "HUGEINT")
        return _query(
            [
                exp.func("count", exp.Star()),
                exp.func("coalesce", exp.func("sum", row_hash), exp.Literal.number(0)),
            ],
            self.version_table(ref, version).as_(HASH_ALIAS),
        )

    def count_rows(self, table: exp.Table) -> exp.Select:
        return _query([exp.func("count", exp.Star())], table)

    # -- DuckDB only: the READ_ONLY sample source is a DuckDB file ----------------------------
    def attach_source(self, path: str, alias: str) -> exp.Attach:
        return exp.Attach(
            this=exp.alias_(_s(path), alias),
            expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))],
        )

    def detach_source(self, alias: str) -> exp.Detach:
        return exp.Detach(this=exp.to_identifier(alias))

    def read_source(self, alias: str | None, table: str) -> exp.Select:
        """A source table, in an attached database (``alias``) or the one opened (None)."""
        return _query(["*"], exp.table_(_q(table), db="main", catalog=alias))

    def list_source_columns(self) -> exp.Select:
        """Every column of a source database's tables (its information schema: no data read)."""
        return _query(
            ["table_name", "column_name", "data_type", "is_nullable"],
            exp.Table(this=exp.to_identifier("columns"), db="information_schema"),
            _eq("table_schema", "main"),
            ["table_name", "ordinal_position"],
        )
