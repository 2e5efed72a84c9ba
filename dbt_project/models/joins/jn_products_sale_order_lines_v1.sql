-- Accepted join jn_products_sale_order_lines v1: silver.sale_order_lines(product_id) -> silver.products(product_id).
-- Reviewed code written by `spyne joins accept`; the review is in jn_products_sale_order_lines.yml.
with

sale_order_lines as (

    select * from {{ ref('sale_order_lines') }}

),

products as (

    select * from {{ ref('products') }}

),

joined as (

    select
        sale_order_lines.*,
        products.default_code as products_default_code,
        products.product_name as products_product_name,
        products.category_name as products_category_name,
        products.list_price as products_list_price,
        products.standard_price as products_standard_price,
        products.is_active as products_is_active,
        products.created_at as products_created_at,
        products.updated_at as products_updated_at
    from sale_order_lines
    left join products
        on sale_order_lines.product_id = products.product_id

)

select * from joined
