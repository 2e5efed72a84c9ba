{#-
  The fan-out guard of an accepted join (models/joins): fails on every parent key that repeats
  (the join would multiply child rows) and on every parent key that more than `max_fan_out`
  child rows of the model meet (an explosive join). `columns` are the model's join columns,
  `fields` the parent's key columns, in the same order.
-#}
{% test spyne_join_fan_out(model, columns, to, fields, max_fan_out) %}

with

per_parent as (

    select {{ columns | join(', ') }}, count(*) as rows_on_key
    from {{ model }}
    where {% for c in columns %}{{ c }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
    group by {{ columns | join(', ') }}

),

repeated_parent_keys as (

    select {{ fields | join(', ') }}, count(*) as rows_on_key
    from {{ to }}
    group by {{ fields | join(', ') }}
    having count(*) > 1

)

select 'explosive' as failure, rows_on_key from per_parent where rows_on_key > {{ max_fan_out }}
union all
select 'parent key repeats' as failure, rows_on_key from repeated_parent_keys

{% endtest %}
