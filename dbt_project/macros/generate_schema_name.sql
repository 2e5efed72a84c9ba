{#-
  A model's schema is its layer: the folder under models/ (silver, joins, gold), verbatim, never
  prefixed by the target schema. Spyne's Python side reads the layer from the same place (fqn), so
  the list of layers lives only in policies.naming.Layer and in the folders.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is not none -%}
        {{ custom_schema_name | trim }}
    {%- elif node.resource_type == 'model' and node.fqn | length > 2 -%}
        {{ node.fqn[1] }}
    {%- else -%}
        {{ target.schema }}
    {%- endif -%}
{%- endmacro %}
