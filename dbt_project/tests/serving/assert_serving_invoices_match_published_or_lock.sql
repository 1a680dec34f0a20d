-- Every serving invoice bills either its lock (final) or its published invoice plus the
-- restatement adjustments it carries (provisional), to the cent, and no published or locked
-- invoice is missing.
with

serving as (

    select * from {{ ref('serving_invoices') }}

),

published as (

    select * from {{ source('published', 'invoices') }}

),

locks as (

    select * from {{ source('billing_control', 'invoice_locks') }}

),

open_adjustments as (

    select
        customer_id,
        billing_period,
        cast(sum(amount) as decimal(18, 2)) as amount
    from {{ ref('serving_restatement_adjustments') }}
    where not is_pending
    group by customer_id, billing_period

),

expected as (

    select
        coalesce(locks.customer_id, published.customer_id) as customer_id,
        coalesce(locks.billing_period, published.billing_period) as billing_period,
        case when locks.customer_id is not null then 'final' else 'provisional' end as status,
        case
            when locks.customer_id is not null then locks.total_amount
            else published.total_amount + coalesce(open_adjustments.amount, 0)
        end as total_amount
    from published
    full outer join locks
        on published.customer_id = locks.customer_id
        and published.billing_period = locks.billing_period
    left join open_adjustments
        on published.customer_id = open_adjustments.customer_id
        and published.billing_period = open_adjustments.billing_period

)

select
    coalesce(expected.customer_id, serving.customer_id) as customer_id,
    coalesce(expected.billing_period, serving.billing_period) as billing_period,
    expected.status as expected_status,
    serving.status as serving_status,
    expected.total_amount as expected_total_amount,
    serving.total_amount as serving_total_amount
from expected
full outer join serving
    on expected.customer_id = serving.customer_id
    and expected.billing_period = serving.billing_period
where expected.customer_id is null
    or serving.customer_id is null
    or expected.status <> serving.status
    or expected.total_amount <> serving.total_amount
