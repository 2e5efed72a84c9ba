{#-
  The statement that writes a version, per adapter: where the SQL differs, the difference is here.

  A version is written once. DuckDB's CREATE TABLE already refuses an existing table; dbt's
  BigQuery create-table-as says CREATE OR REPLACE, which would silently overwrite a published
  version, so BigQuery gets a plain CREATE TABLE (BigQuery then refuses a second write itself)
  built from dbt-bigquery's own pieces: the enforced contract's column list, partitioning,
  clustering and the table OPTIONS that carry the model's description, labels and expiry.
-#}
{% macro spyne_create_version_sql(relation, sql) -%}
  {{ return(adapter.dispatch('spyne_create_version_sql')(relation, sql)) }}
{%- endmacro %}

{% macro default__spyne_create_version_sql(relation, sql) -%}
  {{ return(get_create_table_as_sql(False, relation, sql)) }}
{%- endmacro %}

{% macro bigquery__spyne_create_version_sql(relation, sql) -%}
  {%- set partition_config = adapter.parse_partition_by(config.get('partition_by', none)) -%}
  {%- if partition_config is not none and partition_config.time_ingestion_partitioning -%}
    {{ exceptions.raise_compiler_error(
        "spyne: " ~ model.name ~ " asks for ingestion-time partitioning, which needs dbt's"
        ~ " insert-based table build; a version is written by one CREATE TABLE ... AS SELECT:"
        ~ " partition on a column of the model instead (partition_by.field).") }}
  {%- endif -%}
  {%- set sql_header = config.get('sql_header', none) -%}
  {%- set contract_config = config.get('contract') -%}
  {%- set ddl -%}
    {{ sql_header if sql_header is not none }}
    create table {{ relation }}
    {%- if contract_config.enforced %}
      {{ get_assert_columns_equivalent(sql) }}
      {{ get_table_columns_and_constraints() }}
      {%- set sql = get_select_subquery(sql) %}
    {%- endif %}
    {{ partition_by(partition_config) }}
    {{ cluster_by(config.get('cluster_by', none)) }}
    {{ bigquery_table_options(config, model, False) }}
    as (
      {{ sql }}
    )
  {%- endset -%}
  {{ return(ddl) }}
{%- endmacro %}
