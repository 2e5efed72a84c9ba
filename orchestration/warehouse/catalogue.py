"""Every statement Spyne generates, with sample inputs, in the order a lifecycle sends them.

The golden files (``tests/integration/golden/bigquery/*.sql``) hold each entry's BigQuery text;
the tests run the DuckDB entries, in this order, on a real DuckDB; ``bench/warehouse_sql.py``
renders them all. Entries a dialect never sends (DuckDB's ``COMMENT ON`` reads and ``ATTACH``,
which BigQuery does with table metadata and load jobs) are listed for that dialect only.
"""

from __future__ import annotations

from sqlglot import exp

from orchestration.warehouse.interface import SOURCE_VERSION, Descriptions
from orchestration.warehouse.profiling import ProfileStatements
from orchestration.warehouse.statements import Dialect, Statements
from orchestration.warehouse.upserts import SegmentStatements, UpsertKeys
from policies.drift import Column
from policies.naming import Layer, TableRef

SAMPLE_REF = TableRef(Layer.GOLD, "kpis")
SAMPLE_ROWS = "spyne_rows"  # the name a batch of rows is registered under (DuckDB)
SAMPLE_SOURCE_ALIAS = "spyne_src"
SAMPLE_DESCRIPTIONS = Descriptions(
    "Daily KPIs: one row per day",
    (
        ("day", "The day (UTC)"),
        ("amount", "Amount in EUR, 'VAT' included;\nrounded to cents"),
        ("note", None),
    ),
)
UNDESCRIBED = Descriptions(None, ())


def catalogue(st: Statements, source_path: str = "erp_source.duckdb") -> dict[str, list[exp.Expr]]:
    """Name -> the statements one operation sends, for ``st``'s dialect (order matters)."""
    ref = SAMPLE_REF
    previous = st.version_table(ref, 2)
    select = (
        exp.select("day", "amount", "note")
        .from_(previous)
        .where(exp.column("amount").is_(exp.null()).not_())
    )
    out: dict[str, list[exp.Expr]] = {
        "create_dataset": [st.create_schema(ref.shadow_schema), st.create_schema(ref.layer.value)],
        "create_version_as_select": [st.create_version(ref, 3, select)],
        "clone_version": [st.clone_version(ref, 3, 4)],
    }
    if st.dialect == Dialect.DUCKDB:
        rows = exp.Table(this=exp.to_identifier(SAMPLE_ROWS))
        out["append_rows"] = [st.append_rows(ref, 4, ["day", "amount", "note"], rows)]
    out |= {
        "create_or_replace_view": st.point_view(ref, 3, UNDESCRIBED),
        "create_or_replace_view_described": st.point_view(ref, 3, SAMPLE_DESCRIPTIONS),
        "list_datasets": [st.list_datasets()],
        "list_versions": [st.list_versions(ref)],
        "list_columns": [st.list_columns(ref, 3)],
        "list_all_versions": [st.list_all_versions()],
        "view_of_table": [st.list_views(ref)],
        "list_views": [st.list_views()],
        "content_hash": [st.content_hash(ref, 3)],
        "count_rows": [st.count_rows(st.canonical_table(ref))],
    }
    if st.dialect == Dialect.DUCKDB:
        out["version_descriptions"] = [
            st.version_descriptions(ref.shadow_schema, ref.version_identifier(3)),
            st.version_descriptions(ref.layer.value, ref.name, view=True),
        ]
        out["copy_from_source"] = [
            st.attach_source(source_path, SAMPLE_SOURCE_ALIAS),
            st.create_version(ref, 5, st.read_source(SAMPLE_SOURCE_ALIAS, "kpis")),
            st.detach_source(SAMPLE_SOURCE_ALIAS),
        ]
        out["list_source_columns"] = [st.list_source_columns()]
    if st.dialect == Dialect.BIGQUERY:  # DuckDB upserts write segments (duckdb_upserts.py)
        upserts, keys = SegmentStatements(st), UpsertKeys(("day",), "updated_at")
        columns = ["day", "amount", "note", "updated_at"]
        out["upsert_first_version"] = [
            upserts.create_from_batch(ref, 6, columns, keys),
            upserts.drop_batch(ref, 6),
        ]
        out["upsert_onto_a_clone"] = [
            st.clone_version(ref, 6, 7),
            upserts.merge_batch(ref, 7, columns, keys),
            upserts.drop_batch(ref, 7),
        ]
    out |= profiling_catalogue(st)
    out |= {
        "drop_view": [st.drop_view(ref)],
        "drop_version": [st.drop_version(ref, 4)],
    }
    return out


def profiling_catalogue(st: Statements) -> dict[str, list[exp.Expr]]:
    """Join discovery's statements on the sample version (profiles, sketches, validation)."""
    ps = ProfileStatements(st)
    ref = SAMPLE_REF
    v3, v2 = st.version_table(ref, 3), st.version_table(ref, 2)
    integer = "INT64" if st.dialect == Dialect.BIGQUERY else "BIGINT"
    text = "STRING" if st.dialect == Dialect.BIGQUERY else "VARCHAR"
    columns = [
        Column("day", integer, True),
        Column("amount", "DOUBLE", True),
        Column("note", text, True),
    ]
    return {
        "profile_column_stats": [ps.column_stats(v3, columns, [True, False, False])],
        "profile_value_sketch": [ps.value_sketch(v3, [(columns[0], 1.0), (columns[2], 0.25)])],
        "profile_pair_distinct": [ps.pair_distinct(v3, [("day", "note")])],
        "join_stats": [ps.join_stats(v3, ["day"], v2, ["day"])],
        # A READ_ONLY table is profiled as it is, at its canonical name.
        "profile_read_only_table": [
            st.list_columns(ref, SOURCE_VERSION),
            ps.column_stats(st.read_table(ref, SOURCE_VERSION), columns[:1], [True]),
        ],
        "join_sample": [ps.join_sample(v3, ["day"], ["day", "amount"], v2, ["day"], ["note"], 3)],
    }
