{{ config(alias='invoices') }}

with

published_invoices as (

    select * from {{ source('published', 'invoices') }}

),

invoice_locks as (

    select * from {{ source('billing_control', 'invoice_locks') }}

),

locked_invoice_lines as (

    select * from {{ source('billing_control', 'locked_invoice_lines') }}

),

restatement_adjustments as (

    select * from {{ ref('serving_restatement_adjustments') }}

),

locked_line_counts as (

    select
        customer_id,
        billing_period,
        count(*) as line_count,
        cast(
            sum(case when adjusts_billing_period is not null then amount else 0 end) as decimal(18, 2)
        ) as adjustment_amount
    from locked_invoice_lines
    group by customer_id, billing_period

),

-- the restatement adjustments an open invoice carries (not frozen yet)
open_adjustments as (

    select
        customer_id,
        billing_period,
        count(*) as line_count,
        cast(sum(amount) as decimal(18, 2)) as adjustment_amount
    from restatement_adjustments
    where not is_pending
    group by customer_id, billing_period

),

-- a locked invoice stays visible even if its period is no longer published
invoice_keys as (

    select customer_id, billing_period from published_invoices
    union
    select customer_id, billing_period from invoice_locks

),

final as (

    select
        cast(invoice_keys.customer_id as varchar(64)) as customer_id,
        cast(published_invoices.customer_name as varchar(256)) as customer_name,
        cast(invoice_keys.billing_period as date) as billing_period,
        cast(
            case when invoice_locks.customer_id is not null then 'final' else 'provisional' end
            as varchar(16)
        ) as status,
        cast(invoice_locks.invoice_number as varchar(64)) as invoice_number,
        cast(invoice_locks.locked_at as timestamp) as locked_at,
        cast(
            case
                when invoice_locks.customer_id is not null then invoice_locks.currency_code
                else published_invoices.currency_code
            end
            as varchar(3)
        ) as currency_code,
        cast(
            case
                when invoice_locks.customer_id is not null then coalesce(locked_line_counts.line_count, 0)
                else published_invoices.line_count + coalesce(open_adjustments.line_count, 0)
            end
            as integer
        ) as line_count,
        -- the figure to bill: frozen at lock time for final invoices; for provisional ones the
        -- published total plus the restatement adjustments the invoice carries
        cast(
            case
                when invoice_locks.customer_id is not null then invoice_locks.total_amount
                else published_invoices.total_amount + coalesce(open_adjustments.adjustment_amount, 0)
            end
            as decimal(18, 2)
        ) as total_amount,
        -- the part of total_amount that adjusts restated earlier (locked) invoices
        cast(
            case
                when invoice_locks.customer_id is not null then coalesce(locked_line_counts.adjustment_amount, 0)
                else coalesce(open_adjustments.adjustment_amount, 0)
            end
            as decimal(18, 2)
        ) as adjustment_amount,
        -- the current (possibly restated) figures of the published marts
        cast(published_invoices.total_amount as decimal(18, 2)) as published_total_amount,
        cast(published_invoices.amortized_cost as decimal(38, 10)) as amortized_cost,
        published_invoices.is_cur_final

    from invoice_keys
    left join published_invoices
        on invoice_keys.customer_id = published_invoices.customer_id
        and invoice_keys.billing_period = published_invoices.billing_period
    left join invoice_locks
        on invoice_keys.customer_id = invoice_locks.customer_id
        and invoice_keys.billing_period = invoice_locks.billing_period
    left join locked_line_counts
        on invoice_keys.customer_id = locked_line_counts.customer_id
        and invoice_keys.billing_period = locked_line_counts.billing_period
    left join open_adjustments
        on invoice_keys.customer_id = open_adjustments.customer_id
        and invoice_keys.billing_period = open_adjustments.billing_period

)

select * from final
