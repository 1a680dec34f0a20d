-- Per billing period, the provisional serving invoices and lines carry exactly the
-- published totals of the invoices that are not locked plus the restatement adjustments
-- those invoices carry.
with

locks as (

    select customer_id, billing_period from {{ source('billing_control', 'invoice_locks') }}

),

published_open_invoices as (

    select
        published.billing_period,
        published.total_amount
    from {{ source('published', 'invoices') }} as published
    left join locks
        on published.customer_id = locks.customer_id
        and published.billing_period = locks.billing_period
    where locks.customer_id is null

    union all

    select
        billing_period,
        amount as total_amount
    from {{ ref('serving_restatement_adjustments') }}
    where not is_pending

),

published_open as (

    select
        billing_period,
        cast(sum(total_amount) as decimal(18, 2)) as total_amount
    from published_open_invoices
    group by billing_period

),

serving_provisional as (

    select
        billing_period,
        cast(sum(total_amount) as decimal(18, 2)) as total_amount
    from {{ ref('serving_invoices') }}
    where status = 'provisional'
    group by billing_period

),

serving_provisional_lines as (

    select
        billing_period,
        cast(sum(amount) as decimal(18, 2)) as total_amount
    from {{ ref('serving_invoice_lines') }}
    where status = 'provisional'
    group by billing_period

)

select
    coalesce(published_open.billing_period, serving_provisional.billing_period) as billing_period,
    published_open.total_amount as published_total_amount,
    serving_provisional.total_amount as serving_total_amount,
    serving_provisional_lines.total_amount as serving_lines_total_amount
from published_open
full outer join serving_provisional
    on published_open.billing_period = serving_provisional.billing_period
left join serving_provisional_lines
    on coalesce(published_open.billing_period, serving_provisional.billing_period)
        = serving_provisional_lines.billing_period
where published_open.total_amount is null
    or serving_provisional.total_amount is null
    or published_open.total_amount <> serving_provisional.total_amount
    or coalesce(serving_provisional_lines.total_amount, 0) <> published_open.total_amount
