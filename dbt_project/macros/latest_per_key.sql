{#-
  CDC sources deliver a row again each time it changes; silver keeps the latest version of
  each key. `where true` keeps QUALIFY valid on BigQuery, which wants a WHERE beside it.
-#}
{% macro latest_per_key(relation, key='id', order_by='write_date') -%}
    select *
    from {{ relation }}
    where true
    qualify row_number() over (partition by {{ key }} order by {{ order_by }} desc) = 1
{%- endmacro %}
