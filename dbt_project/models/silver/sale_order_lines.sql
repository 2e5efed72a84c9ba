with

sale_order_line as (

    select * from {{ source('bronze', 'sale_order_line') }}

),

latest as (

    {{ latest_per_key('sale_order_line') }}

),

final as (

    select
        cast(id as integer) as order_line_id,
        cast(order_id as integer) as order_id,
        cast(product_id as integer) as product_id,
        cast(name as string) as description,
        cast(product_uom_qty as numeric(18, 3)) as quantity,
        cast(price_unit as numeric(18, 2)) as price_unit,
        cast(discount as numeric(5, 2)) as discount_pct,
        cast(price_subtotal as numeric(18, 2)) as price_subtotal,
        cast(price_tax as numeric(18, 2)) as price_tax,
        cast(price_total as numeric(18, 2)) as price_total,
        cast(create_date as timestamp) as created_at,
        cast(write_date as timestamp) as updated_at
    from latest

)

select * from final
