"""Every statement Spyne sends to a warehouse, built once as sqlglot expressions per dialect.

One :class:`Statements` per warehouse: DuckDB names are ``"schema"."table"``; BigQuery names are
qualified with the project (``project.dataset.table``), information-schema views are read per
dataset or per region, and descriptions travel inside the view's own DDL (BigQuery has no
``COMMENT ON``). Where the dialects differ it is here and nowhere else; the adapters only run
what this module builds. :func:`catalogue` lists every statement with sample inputs, for the
golden files and ``bench/warehouse_sql.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlglot import exp

from orchestration.warehouse.interface import Descriptions
from policies.naming import Layer, TableRef, shadow_schema

VERSION_TABLE_TYPES = ("BASE TABLE", "CLONE")  # a BigQuery version may be a zero-copy clone
HASH_ALIAS = "t"


class Dialect(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


def _q(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _s(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _where(*conditions: exp.Expr) -> exp.Expr:
    return exp.and_(*conditions) if len(conditions) > 1 else conditions[0]


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
        table.meta["quoted_table"] = (
            True  # BigQuery's own spelling: `p.dataset.INFORMATION_SCHEMA.X`
        )
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
        return exp.Create(this=target, kind="TABLE", expression=exp.select("*").from_(source))

    def append_rows(
        self, ref: TableRef, version: int, columns: Sequence[str], source: exp.Table
    ) -> exp.Insert:
        """DuckDB: append registered rows by column name (BigQuery appends with a load job)."""
        names = [_q(c) for c in columns]
        return exp.insert(
            exp.select(*names).from_(source),
            self.version_table(ref, version),
            columns=[_q(c) for c in columns],
        )

    def drop_version(self, ref: TableRef, version: int) -> exp.Drop:
        return exp.Drop(tables=[self.version_table(ref, version)], kind="TABLE", exists=True)

    # -- canonical views ---------------------------------------------------------------------
    def create_view(self, ref: TableRef, version: int) -> exp.Create:
        return exp.Create(
            this=self.canonical_table(ref),
            kind="VIEW",
            replace=True,
            expression=exp.select("*").from_(self.version_table(ref, version)),
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
        return exp.column("table_type").isin(*(_s(t) for t in VERSION_TABLE_TYPES))

    def list_versions(self, ref: TableRef) -> exp.Select:
        """Tables of a shadow schema (the caller keeps those named ``<table>__v<N>``)."""
        schema = ref.shadow_schema
        return (
            exp.select("table_name")
            .from_(self._info("TABLES", schema))
            .where(_where(exp.column("table_schema").eq(_s(schema)), self._is_version()))
        )

    def list_columns(self, ref: TableRef, version: int) -> exp.Select:
        schema, name = ref.shadow_schema, ref.version_identifier(version)
        return (
            exp.select("column_name", "data_type", "is_nullable")
            .from_(self._info("COLUMNS", schema))
            .where(
                _where(
                    exp.column("table_schema").eq(_s(schema)),
                    exp.column("table_name").eq(_s(name)),
                )
            )
            .order_by("ordinal_position")
        )

    def list_all_versions(self) -> exp.Select:
        """Every table of every shadow schema (BigQuery: of the whole region, in one read)."""
        shadows = [_s(shadow_schema(layer)) for layer in Layer]
        return (
            exp.select("table_schema", "table_name")
            .from_(self._info("TABLES", None))
            .where(_where(exp.column("table_schema").isin(*shadows), self._is_version()))
            .order_by("table_schema", "table_name")
        )

    def list_views(self, ref: TableRef | None = None) -> exp.Select:
        """Canonical views and their definitions: one table's, or every layer's."""
        if ref is not None:
            scope: str | None = ref.layer.value
            condition = _where(
                exp.column("table_schema").eq(_s(ref.layer.value)),
                exp.column("table_name").eq(_s(ref.name)),
            )
        else:
            scope = None
            condition = exp.column("table_schema").isin(*(_s(layer.value) for layer in Layer))
        return (
            exp.select("table_schema", "table_name", "view_definition")
            .from_(self._info("VIEWS", scope))
            .where(condition)
            .order_by("table_schema", "table_name")
        )

    def list_datasets(self) -> exp.Select:
        names = [_s(s) for layer in Layer for s in (layer.value, shadow_schema(layer))]
        return (
            exp.select("schema_name")
            .from_(self._info("SCHEMATA", None))
            .where(exp.column("schema_name").isin(*names))
            .order_by("schema_name")
        )

    def version_descriptions(self, schema: str, name: str, *, view: bool = False) -> exp.Union:
        """DuckDB: a table's (or view's) comment at position 0 and its columns' at 1..n, in one
        catalog read.

        Read from DuckDB's own catalog functions, twice as fast as its information schema, on
        the path of every promotion. BigQuery keeps descriptions as table metadata instead.
        """
        owner, key = ("duckdb_views", "view_name") if view else ("duckdb_tables", "table_name")

        def named(name_column: str) -> exp.Expr:
            return _where(
                exp.column("schema_name").eq(_s(schema)), exp.column(name_column).eq(_s(name))
            )

        columns = (
            exp.select((exp.column("column_index") + 1).as_("position"), "column_name", "comment")
            .from_(exp.Table(this=exp.Anonymous(this="duckdb_columns")))
            .where(named("table_name"))
        )
        table = (
            exp.select(exp.Literal.number(0), exp.null(), "comment")
            .from_(exp.Table(this=exp.Anonymous(this=owner)))
            .where(named(key))
        )
        return exp.union(columns, table, distinct=False)

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
        return exp.select(
            exp.func("count", exp.Star()),
            exp.func("coalesce", exp.func("sum", row_hash), exp.Literal.number(0)),
        ).from_(self.version_table(ref, version).as_(HASH_ALIAS))

    def count_rows(self, table: exp.Table) -> exp.Select:
        return exp.select(exp.func("count", exp.Star())).from_(table)

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
        return exp.select("*").from_(exp.table_(_q(table), db="main", catalog=alias))
