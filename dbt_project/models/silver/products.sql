with

product_product as (

    select * from {{ source('bronze', 'product_product') }}

),

latest as (

    {{ latest_per_key('product_product') }}

),

final as (

    select
        cast(id as integer) as product_id,
        cast(default_code as string) as default_code,
        cast(trim(name) as string) as product_name,
        cast(categ_name as string) as category_name,
        cast(list_price as numeric(18, 2)) as list_price,
        cast(standard_price as numeric(18, 2)) as standard_price,
        cast(active as boolean) as is_active,
        cast(create_date as timestamp) as created_at,
        cast(write_date as timestamp) as updated_at
    from latest

)

select * from final
