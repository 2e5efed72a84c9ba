-- Accepted join jn_customers_payments v1: silver.payments(customer_id) -> silver.customers(customer_id).
-- Reviewed code written by `spyne joins accept`; the review is in jn_customers_payments.yml.
with

payments as (

    select * from {{ ref('payments') }}

),

customers as (

    select * from {{ ref('customers') }}

),

joined as (

    select
        payments.*,
        customers.customer_name as customers_customer_name,
        customers.email as customers_email,
        customers.phone as customers_phone,
        customers.is_company as customers_is_company,
        customers.country_code as customers_country_code,
        customers.customer_rank as customers_customer_rank,
        customers.created_at as customers_created_at,
        customers.updated_at as customers_updated_at
    from payments
    left join customers
        on payments.customer_id = customers.customer_id

)

select * from joined
