-- In the serving schema too, an invoice's total is the sum of its lines and counts them
-- (the locked lines of a final invoice must add up to the locked total).
with

lines as (

    select
        customer_id,
        billing_period,
        count(*) as line_count,
        cast(sum(amount) as decimal(18, 2)) as total_amount
    from {{ ref('serving_invoice_lines') }}
    group by customer_id, billing_period

)

select
    invoices.customer_id,
    invoices.billing_period,
    invoices.status,
    invoices.total_amount as invoice_total_amount,
    lines.total_amount as lines_total_amount,
    invoices.line_count as invoice_line_count,
    lines.line_count as lines_line_count
from {{ ref('serving_invoices') }} as invoices
left join lines
    on invoices.customer_id = lines.customer_id
    and invoices.billing_period = lines.billing_period
where coalesce(lines.total_amount, 0) <> invoices.total_amount
    or coalesce(lines.line_count, 0) <> invoices.line_count
