{#-
  Downstream models and every query see a model only through its canonical view.
  Data tests are different: they gate the build that was just made, so inside a test a
  ref() to a model built in this same invocation resolves to that build's shadow version.
  Models not built in this invocation (another layer) stay on their canonical view.
-#}
{% macro ref() %}
  {%- set rel = builtins.ref(*varargs, **kwargs) -%}
  {%- if execute and model is defined and model.resource_type == 'test' and rel is not none
        and rel.schema is not none and not rel.schema.endswith('__shadow') -%}
    {%- set allocated = spyne_allocated_version(rel.schema, rel.identifier) -%}
    {%- if allocated -%}
      {{ return(spyne_version_relation(rel.database, rel.schema, rel.identifier, allocated | int)) }}
    {%- endif -%}
    {%- if ('model.' ~ project_name ~ '.' ~ rel.identifier) in (selected_resources or []) -%}
      {%- set versions = spyne_existing_versions(rel.database, rel.schema, rel.identifier) -%}
      {%- if versions -%}
        {{ return(spyne_version_relation(rel.database, rel.schema, rel.identifier, versions | last)) }}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(rel) }}
{% endmacro %}
