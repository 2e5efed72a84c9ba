-- Accepted join jn_sale_orders_sale_order_lines v1: silver.sale_order_lines(order_id) -> silver.sale_orders(order_id).
-- Reviewed code written by `spyne joins accept`; the review is in jn_sale_orders_sale_order_lines.yml.
with

sale_order_lines as (

    select * from {{ ref('sale_order_lines') }}

),

sale_orders as (

    select * from {{ ref('sale_orders') }}

),

joined as (

    select
        sale_order_lines.*,
        sale_orders.order_name as sale_orders_order_name,
        sale_orders.customer_id as sale_orders_customer_id,
        sale_orders.ordered_at as sale_orders_ordered_at,
        sale_orders.order_date as sale_orders_order_date,
        sale_orders.state as sale_orders_state,
        sale_orders.is_confirmed as sale_orders_is_confirmed,
        sale_orders.amount_untaxed as sale_orders_amount_untaxed,
        sale_orders.amount_tax as sale_orders_amount_tax,
        sale_orders.amount_total as sale_orders_amount_total,
        sale_orders.currency_code as sale_orders_currency_code,
        sale_orders.created_at as sale_orders_created_at,
        sale_orders.updated_at as sale_orders_updated_at
    from sale_order_lines
    left join sale_orders
        on sale_order_lines.order_id = sale_orders.order_id

)

select * from joined
