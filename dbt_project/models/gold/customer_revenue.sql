with

customers as (

    select * from {{ ref('customers') }}

),

sale_orders as (

    select * from {{ ref('sale_orders') }}

),

invoices as (

    select * from {{ ref('invoices') }}

),

payments as (

    select * from {{ ref('payments') }}

),

-- Only posted documents are accounting facts; credit notes carry positive amounts.
invoice_totals as (

    select
        customer_id,
        sum(case when move_type = 'out_refund' then -amount_total else amount_total end)
            as invoiced_revenue,
        sum(case when move_type = 'out_invoice' then amount_residual else 0 end)
            as open_residual
    from invoices
    where state = 'posted'
    group by customer_id

),

payment_totals as (

    select
        customer_id,
        sum(amount) as paid_amount
    from payments
    where state = 'posted' and payment_type = 'inbound'
    group by customer_id

),

order_totals as (

    select
        customer_id,
        count(*) as confirmed_order_count,
        sum(amount_total) as confirmed_order_revenue,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from sale_orders
    where is_confirmed
    group by customer_id

),

final as (

    select
        cast(customers.customer_id as integer) as customer_id,
        cast(customers.customer_name as string) as customer_name,
        cast(customers.country_code as string) as country_code,
        cast(coalesce(invoice_totals.invoiced_revenue, 0) as numeric(18, 2)) as invoiced_revenue,
        cast(coalesce(payment_totals.paid_amount, 0) as numeric(18, 2)) as paid_amount,
        cast(coalesce(invoice_totals.open_residual, 0) as numeric(18, 2)) as open_residual,
        cast(coalesce(order_totals.confirmed_order_count, 0) as integer) as confirmed_order_count,
        cast(coalesce(order_totals.confirmed_order_revenue, 0) as numeric(18, 2))
            as confirmed_order_revenue,
        cast(order_totals.first_order_date as date) as first_order_date,
        cast(order_totals.last_order_date as date) as last_order_date
    from customers
    left join invoice_totals
        on customers.customer_id = invoice_totals.customer_id
    left join payment_totals
        on customers.customer_id = payment_totals.customer_id
    left join order_totals
        on customers.customer_id = order_totals.customer_id

)

select * from final
