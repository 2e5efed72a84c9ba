with

account_move as (

    select * from {{ source('bronze', 'account_move') }}

),

sale_order as (

    select * from {{ source('bronze', 'sale_order') }}

),

latest as (

    {{ latest_per_key('account_move') }}

),

-- Order references never change, so any version of an order resolves its name.
order_names as (

    select
        name,
        min(id) as order_id
    from sale_order
    group by name

),

final as (

    select
        cast(latest.id as integer) as invoice_id,
        cast(latest.name as string) as invoice_number,
        cast(latest.move_type as string) as move_type,
        cast(latest.partner_id as integer) as customer_id,
        cast(latest.invoice_origin as string) as order_name,
        cast(order_names.order_id as integer) as order_id,
        cast(latest.invoice_date as date) as invoice_date,
        cast(latest.invoice_date_due as date) as due_date,
        cast(latest.state as string) as state,
        cast(latest.payment_state as string) as payment_state,
        cast(latest.amount_untaxed as numeric(18, 2)) as amount_untaxed,
        cast(latest.amount_tax as numeric(18, 2)) as amount_tax,
        cast(latest.amount_total as numeric(18, 2)) as amount_total,
        cast(latest.amount_residual as numeric(18, 2)) as amount_residual,
        cast(latest.create_date as timestamp) as created_at,
        cast(latest.write_date as timestamp) as updated_at
    from latest
    left join order_names
        on latest.invoice_origin = order_names.name
    -- account_move also holds vendor bills and journal entries; only sales documents here.
    where latest.move_type in ('out_invoice', 'out_refund')

)

select * from final
