{#-
  "Overdue" is measured against a fixed day, never current_date, so the same data always
  gives the same table. The var is parsed as a date before it reaches the SQL.
-#}
{%- set as_of_var = var('as_of_date', none) -%}

with

invoices as (

    select * from {{ ref('invoices') }}

),

as_of as (

    {% if as_of_var %}
    select cast('{{ modules.datetime.date.fromisoformat(as_of_var | string) }}' as date) as as_of_date
    {% else %}
    select max(invoice_date) as as_of_date
    from invoices
    {% endif %}

),

open_invoices as (

    select *
    from invoices
    where move_type = 'out_invoice'
        and state = 'posted'
        and amount_residual > 0

),

-- Without payment terms an invoice is due on its invoice date.
days_past_due as (

    select
        open_invoices.*,
        as_of.as_of_date,
        {{ dbt.datediff('coalesce(open_invoices.due_date, open_invoices.invoice_date)', 'as_of.as_of_date', 'day') }}
            as days_past_due
    from open_invoices
    cross join as_of

),

final as (

    select
        cast(invoice_id as integer) as invoice_id,
        cast(invoice_number as string) as invoice_number,
        cast(customer_id as integer) as customer_id,
        cast(order_name as string) as order_name,
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date,
        cast(payment_state as string) as payment_state,
        cast(amount_total as numeric(18, 2)) as amount_total,
        cast(amount_residual as numeric(18, 2)) as amount_residual,
        cast(as_of_date as date) as as_of_date,
        cast(greatest(days_past_due, 0) as integer) as days_overdue,
        cast(days_past_due > 0 as boolean) as is_overdue
    from days_past_due

)

select * from final
