with

sale_orders as (

    select * from {{ ref('sale_orders') }}

),

-- Order lines through the accepted join to their orders (models/joins, reviewed code).
sale_order_lines as (

    select * from {{ ref('jn_sale_orders_sale_order_lines') }}

),

confirmed_orders as (

    select
        order_id,
        order_date,
        amount_untaxed,
        amount_total
    from sale_orders
    where is_confirmed

),

-- Counted per order first so that joining lines cannot multiply order amounts.
lines_per_order as (

    select
        order_id,
        count(*) as line_count
    from sale_order_lines
    group by order_id

),

final as (

    select
        cast(confirmed_orders.order_date as date) as order_date,
        cast(count(*) as integer) as orders,
        cast(coalesce(sum(lines_per_order.line_count), 0) as integer) as order_lines,
        cast(sum(confirmed_orders.amount_untaxed) as numeric(18, 2)) as revenue_untaxed,
        cast(sum(confirmed_orders.amount_total) as numeric(18, 2)) as revenue_total
    from confirmed_orders
    left join lines_per_order
        on confirmed_orders.order_id = lines_per_order.order_id
    group by confirmed_orders.order_date

)

select * from final
