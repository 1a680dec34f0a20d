-- Rule 11: for every locked invoice of a billing period that is still published, and every
-- line key, the current published amount equals the locked amount plus every adjustment of
-- that period on an invoice (frozen on a final one or carried by a provisional one) plus the
-- pending ones: each restated cent is adjusted exactly once.
with

published_periods as (

    select distinct billing_period from {{ source('published', 'invoices') }}

),

locks as (

    select locks.customer_id, locks.billing_period
    from {{ source('billing_control', 'invoice_locks') }} as locks
    inner join published_periods
        on locks.billing_period = published_periods.billing_period

),

amounts as (

    select
        published.customer_id,
        published.billing_period,
        published.product_code,
        published.charge_category,
        published.pricing_rule_id,
        published.currency_code,
        published.amount
    from {{ source('published', 'invoice_lines') }} as published
    inner join locks
        on published.customer_id = locks.customer_id
        and published.billing_period = locks.billing_period

    union all

    -- the locked invoice's own lines in billing.invoice_lines
    select
        lines.customer_id,
        lines.billing_period,
        lines.product_code,
        lines.charge_category,
        lines.pricing_rule_id,
        lines.currency_code,
        -lines.amount
    from {{ ref('serving_invoice_lines') }} as lines
    inner join locks
        on lines.customer_id = locks.customer_id
        and lines.billing_period = locks.billing_period
    where lines.adjusts_billing_period is null

    union all

    -- its adjustments on any invoice, final or provisional
    select
        lines.customer_id,
        lines.adjusts_billing_period,
        lines.product_code,
        lines.charge_category,
        lines.pricing_rule_id,
        lines.currency_code,
        -lines.amount
    from {{ ref('serving_invoice_lines') }} as lines
    inner join locks
        on lines.customer_id = locks.customer_id
        and lines.adjusts_billing_period = locks.billing_period

    union all

    select
        pending.customer_id,
        pending.adjusts_billing_period,
        pending.product_code,
        pending.charge_category,
        pending.pricing_rule_id,
        pending.currency_code,
        -pending.amount
    from {{ ref('serving_pending_adjustments') }} as pending

)

select
    customer_id,
    billing_period,
    product_code,
    charge_category,
    pricing_rule_id,
    currency_code,
    cast(sum(amount) as decimal(18, 2)) as unadjusted_amount
from amounts
group by customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code
having sum(amount) <> 0
