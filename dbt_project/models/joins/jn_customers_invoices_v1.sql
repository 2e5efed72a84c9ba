-- Accepted join jn_customers_invoices v1: silver.invoices(customer_id) -> silver.customers(customer_id).
-- Reviewed code written by `spyne joins accept`; the review is in jn_customers_invoices.yml.
with

invoices as (

    select * from {{ ref('invoices') }}

),

customers as (

    select * from {{ ref('customers') }}

),

joined as (

    select
        invoices.*,
        customers.customer_name as customers_customer_name,
        customers.email as customers_email,
        customers.phone as customers_phone,
        customers.is_company as customers_is_company,
        customers.country_code as customers_country_code,
        customers.customer_rank as customers_customer_rank,
        customers.created_at as customers_created_at,
        customers.updated_at as customers_updated_at
    from invoices
    left join customers
        on invoices.customer_id = customers.customer_id

)

select * from joined
