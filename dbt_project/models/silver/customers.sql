with

res_partner as (

    select * from {{ source('bronze', 'res_partner') }}

),

latest as (

    {{ latest_per_key('res_partner') }}

),

final as (

    select
        cast(id as integer) as customer_id,
        cast(trim(name) as string) as customer_name,
        cast(lower(trim(email)) as string) as email,
        cast(trim(phone) as string) as phone,
        cast(is_company as boolean) as is_company,
        cast(upper(country_code) as string) as country_code,
        cast(customer_rank as integer) as customer_rank,
        cast(create_date as timestamp) as created_at,
        cast(write_date as timestamp) as updated_at
    from latest
    -- Filtered after deduplication: a partner becomes a customer in a later version.
    where customer_rank > 0

)

select * from final
