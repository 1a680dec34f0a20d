with

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

priced as (

    select * from {{ ref('int_costs_priced') }}

),

invoice_totals as (

    select
        customer_id,
        billing_period,
        currency_code,
        cast(count(*) as integer) as line_count,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        -- the total is the sum of the rounded lines, never a rounded sum
        cast(sum(amount) as decimal(18, 2)) as total_amount,
        cast(sum(invoice_billed_cost) as decimal(38, 10)) as unrounded_total,
        -- the oldest fx rate month used: earlier than the billing period = a stale rate
        min(fx_rate_period) as fx_rate_period

    from invoice_lines
    group by
        customer_id,
        billing_period,
        currency_code

),

cur_status as (

    -- final once every staged row feeding the invoice carries an AWS invoice id
    select
        customer_id,
        billing_period,
        min(case when aws_invoice_id is null then 0 else 1 end) as all_rows_invoiced

    from priced
    group by
        customer_id,
        billing_period

),

period_status as (

    -- an invoice without AWS costs (only custom items) is final once the whole period is
    select
        billing_period,
        min(case when aws_invoice_id is null then 0 else 1 end) as all_rows_invoiced

    from priced
    group by billing_period

),

invoices as (

    select
        invoice_totals.customer_id,
        customers.customer_name,
        invoice_totals.billing_period,
        invoice_totals.currency_code,
        invoice_totals.line_count,
        invoice_totals.amortized_cost,
        invoice_totals.total_amount,
        invoice_totals.unrounded_total,
        cast(invoice_totals.total_amount - invoice_totals.unrounded_total as decimal(38, 10)) as rounding_difference,
        invoice_totals.fx_rate_period,
        case
            when coalesce(cur_status.all_rows_invoiced, period_status.all_rows_invoiced) = 1 then true
            else false
        end as is_cur_final,
        cast('provisional' as varchar(16)) as status

    from invoice_totals
    left join customers
        on invoice_totals.customer_id = customers.customer_id
        and invoice_totals.billing_period = customers.billing_period
    left join cur_status
        on invoice_totals.customer_id = cur_status.customer_id
        and invoice_totals.billing_period = cur_status.billing_period
    left join period_status
        on invoice_totals.billing_period = period_status.billing_period

)

select * from invoices
