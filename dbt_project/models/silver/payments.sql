with

account_payment as (

    select * from {{ source('bronze', 'account_payment') }}

),

latest as (

    {{ latest_per_key('account_payment') }}

),

final as (

    select
        cast(id as integer) as payment_id,
        cast(name as string) as payment_name,
        cast(partner_id as integer) as customer_id,
        cast(move_id as integer) as invoice_id,
        cast(amount as numeric(18, 2)) as amount,
        cast(date as date) as payment_date,
        cast(payment_type as string) as payment_type,
        cast(state as string) as state,
        cast(create_date as timestamp) as created_at,
        cast(write_date as timestamp) as updated_at
    from latest

)

select * from final
