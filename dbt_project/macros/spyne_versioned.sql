{#-
  spyne_versioned: every build writes a new immutable physical version
  <layer>__shadow.<model>__v<N> and never touches the canonical view <layer>.<model>.
  On BigQuery the layer is a dataset of the target project, and so is <layer>__shadow; the
  statement that writes the version is adapter-dispatched (macros/spyne_version_ddl.sql).
  Publishing (pointing the canonical view at a version) is Spyne's gated promotion,
  not dbt's job, so a failed build or gate can never change what users see.

  N is the number Spyne allocated in its catalog, the one source of version numbers, passed as
  JSON in the environment variable SPYNE_DBT_VERSIONS ({"<layer>.<model>": N}): an environment
  variable read only at run time, not a --vars value, so dbt's partial parsing stays valid from
  one build to the next. A model built without an allocated version (dbt run by hand) fails.
-#}

{% macro spyne_allocated_version(layer, identifier) -%}
  {%- set allocated = fromjson(env_var('SPYNE_DBT_VERSIONS', '{}')) or {} -%}
  {{ return(allocated.get(layer ~ '.' ~ identifier, 0) | int) }}
{%- endmacro %}

{% macro spyne_shadow_schema(layer) -%}
  {{ return(layer ~ '__shadow') }}
{%- endmacro %}

{% macro spyne_existing_versions(database, layer, identifier) -%}
  {%- set shadow = api.Relation.create(database=database, schema=spyne_shadow_schema(layer)) -%}
  {%- set versions = [] -%}
  {%- if adapter.check_schema_exists(database, shadow.schema) -%}
    {%- set pattern = modules.re.compile('^' ~ identifier ~ '__v([1-9][0-9]*)$') -%}
    {#- the dispatched global macro: an agate table on DuckDB, relations on BigQuery -#}
    {%- for rel in list_relations_without_caching(shadow) -%}
      {%- set name = rel.identifier if rel.identifier is defined else rel['name'] -%}
      {%- set m = pattern.match(name) -%}
      {%- if m -%}{%- do versions.append(m.group(1) | int) -%}{%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(versions | sort) }}
{%- endmacro %}

{% macro spyne_version_relation(database, layer, identifier, version) -%}
  {{ return(api.Relation.create(database=database, schema=spyne_shadow_schema(layer),
                                identifier=identifier ~ '__v' ~ version, type='table')) }}
{%- endmacro %}

{% materialization spyne_versioned, default %}
  {%- set layer = this.schema -%}
  {%- set version = spyne_allocated_version(layer, this.identifier) -%}
  {%- if version < 1 -%}
    {{ exceptions.raise_compiler_error(
        "spyne: no version was allocated for " ~ layer ~ "." ~ this.identifier
        ~ ". Versions come from Spyne's catalog: build it through Spyne (its layer job in"
        ~ " Dagster, or `spyne demo`), not with dbt alone.") }}
  {%- endif -%}
  {%- set target_relation = spyne_version_relation(this.database, layer, this.identifier, version) -%}
  {%- set grant_config = config.get('grants') -%}

  {% do adapter.create_schema(target_relation) %}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ spyne_create_version_sql(target_relation, sql) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {#- As dbt's table materialization does, on the version: a new relation has nothing to revoke. -#}
  {% do apply_grants(target_relation, grant_config, should_revoke=False) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ log('spyne: built ' ~ target_relation ~ ' (version ' ~ version ~ ')', info=True) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#-
  Created once per invocation, before threads start: concurrent CREATE SCHEMA conflicts on DuckDB.
  The layer schemas (BigQuery datasets, in the profile's location) are those of the project's
  models (a model's schema is its layer). Only commands that write create them: `dbt compile`
  and `dbt docs generate` render this hook too, and must not touch the warehouse (on BigQuery,
  compiling for the prod target needs no connection at all).
-#}
{% macro spyne_create_layer_schemas() -%}
  {%- if execute and flags.WHICH in ['run', 'build'] -%}
    {%- set layers = [] -%}
    {%- for node in graph.nodes.values() -%}
      {%- if node.resource_type == 'model' and node.schema not in layers -%}
        {%- do layers.append(node.schema) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- for layer in layers | sort -%}
      {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=layer)) -%}
      {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=spyne_shadow_schema(layer))) -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
