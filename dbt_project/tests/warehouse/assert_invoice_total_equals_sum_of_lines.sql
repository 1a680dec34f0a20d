-- An invoice's total is the sum of its rounded lines, and it counts every line.
with

lines as (

    select
        customer_id,
        billing_period,
        cast(count(*) as integer) as line_count,
        cast(sum(amount) as decimal(18, 2)) as total_amount,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost
    from {{ ref('invoice_lines') }}
    group by customer_id, billing_period

),

invoices as (

    select * from {{ ref('invoices') }}

)

select
    coalesce(invoices.customer_id, lines.customer_id) as customer_id,
    coalesce(invoices.billing_period, lines.billing_period) as billing_period,
    invoices.total_amount as invoice_total_amount,
    lines.total_amount as lines_total_amount,
    invoices.line_count as invoice_line_count,
    lines.line_count as lines_line_count
from invoices
full outer join lines
    on invoices.customer_id = lines.customer_id
    and invoices.billing_period = lines.billing_period
where invoices.total_amount is null
    or lines.total_amount is null
    or invoices.total_amount <> lines.total_amount
    or invoices.line_count <> lines.line_count
    or invoices.amortized_cost <> lines.amortized_cost
