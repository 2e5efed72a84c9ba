with

sale_order as (

    select * from {{ source('bronze', 'sale_order') }}

),

latest as (

    {{ latest_per_key('sale_order') }}

),

final as (

    select
        cast(id as integer) as order_id,
        cast(name as string) as order_name,
        cast(partner_id as integer) as customer_id,
        cast(date_order as timestamp) as ordered_at,
        cast(date_order as date) as order_date,
        cast(state as string) as state,
        cast(state in ('sale', 'done') as boolean) as is_confirmed,
        cast(amount_untaxed as numeric(18, 2)) as amount_untaxed,
        cast(amount_tax as numeric(18, 2)) as amount_tax,
        cast(amount_total as numeric(18, 2)) as amount_total,
        cast(upper(currency_code) as string) as currency_code,
        cast(create_date as timestamp) as created_at,
        cast(write_date as timestamp) as updated_at
    from latest

)

select * from final
