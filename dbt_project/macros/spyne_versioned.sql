{#-
  spyne_versioned: every build writes a new immutable physical version
  <layer>__shadow.<model>__v<N> and never touches the canonical view <layer>.<model>.
  Publishing (pointing the canonical view at a version) is Spyne's gated promotion,
  not dbt's job, so a failed build or gate can never change what users see.

  N is max(existing versions) + 1, raised to the number Spyne allocated in the catalog when
  it passes them as JSON in the environment variable SPYNE_DBT_VERSIONS
  ({"<layer>.<model>": N}). An environment variable read only at run time, not a --vars
  value, so dbt's partial parsing stays valid from one build to the next.
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
  {%- set existing = spyne_existing_versions(this.database, layer, this.identifier) -%}
  {%- set allocated = spyne_allocated_version(layer, this.identifier) -%}
  {%- set version = [(existing | max if existing else 0) + 1, allocated] | max -%}
  {%- set target_relation = spyne_version_relation(this.database, layer, this.identifier, version) -%}

  {% do adapter.create_schema(target_relation) %}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, target_relation, sql) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ log('spyne: built ' ~ target_relation ~ ' (version ' ~ version ~ ')', info=True) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Created once per invocation, before threads start: concurrent CREATE SCHEMA conflicts on DuckDB. -#}
{% macro spyne_create_layer_schemas() -%}
  {%- if execute -%}
    {%- for layer in ['silver', 'joins', 'gold'] -%}
      {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=layer)) -%}
      {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=spyne_shadow_schema(layer))) -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
