-- Accepted join jn_invoices_payments v1: silver.payments(invoice_id) -> silver.invoices(invoice_id).
-- Reviewed code written by `spyne joins accept`; the review is in jn_invoices_payments.yml.
with

payments as (

    select * from {{ ref('payments') }}

),

invoices as (

    select * from {{ ref('invoices') }}

),

joined as (

    select
        payments.*,
        invoices.invoice_number as invoices_invoice_number,
        invoices.move_type as invoices_move_type,
        invoices.customer_id as invoices_customer_id,
        invoices.order_name as invoices_order_name,
        invoices.order_id as invoices_order_id,
        invoices.invoice_date as invoices_invoice_date,
        invoices.due_date as invoices_due_date,
        invoices.state as invoices_state,
        invoices.payment_state as invoices_payment_state,
        invoices.amount_untaxed as invoices_amount_untaxed,
        invoices.amount_tax as invoices_amount_tax,
        invoices.amount_total as invoices_amount_total,
        invoices.amount_residual as invoices_amount_residual,
        invoices.created_at as invoices_created_at,
        invoices.updated_at as invoices_updated_at
    from payments
    left join invoices
        on payments.invoice_id = invoices.invoice_id

)

select * from joined
