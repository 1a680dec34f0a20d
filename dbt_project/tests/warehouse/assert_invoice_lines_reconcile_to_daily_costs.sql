-- Per customer and billing period, invoice lines carry exactly the amortized, unblended
-- and billed cost of daily_costs.
with

daily as (

    select
        customer_id,
        billing_period,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost
    from {{ ref('daily_costs') }}
    group by customer_id, billing_period

),

lines as (

    select
        customer_id,
        billing_period,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost
    from {{ ref('invoice_lines') }}
    group by customer_id, billing_period

)

select
    coalesce(daily.customer_id, lines.customer_id) as customer_id,
    coalesce(daily.billing_period, lines.billing_period) as billing_period,
    daily.amortized_cost as daily_amortized_cost,
    lines.amortized_cost as lines_amortized_cost,
    daily.billed_cost as daily_billed_cost,
    lines.billed_cost as lines_billed_cost
from daily
full outer join lines
    on daily.customer_id = lines.customer_id
    and daily.billing_period = lines.billing_period
where daily.amortized_cost is null
    or lines.amortized_cost is null
    or daily.amortized_cost <> lines.amortized_cost
    or daily.unblended_cost <> lines.unblended_cost
    or daily.billed_cost <> lines.billed_cost
