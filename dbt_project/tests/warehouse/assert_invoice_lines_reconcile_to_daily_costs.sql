-- Per customer and billing period, the AWS invoice lines carry exactly the billed cost of
-- daily_costs (rows not billed carry 0 there), and the unblended and amortized cost of the
-- billed rows of int_costs_priced.
with

daily as (

    select
        customer_id,
        billing_period,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost
    from {{ ref('daily_costs') }}
    group by customer_id, billing_period

),

billed_rows as (

    select
        customer_id,
        billing_period,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost
    from {{ ref('int_costs_priced') }}
    where billing_treatment = 'billed'
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
    where line_source = 'aws'
    group by customer_id, billing_period

)

select
    coalesce(daily.customer_id, lines.customer_id) as customer_id,
    coalesce(daily.billing_period, lines.billing_period) as billing_period,
    daily.billed_cost as daily_billed_cost,
    lines.billed_cost as lines_billed_cost,
    billed_rows.amortized_cost as billed_rows_amortized_cost,
    lines.amortized_cost as lines_amortized_cost
from daily
full outer join lines
    on daily.customer_id = lines.customer_id
    and daily.billing_period = lines.billing_period
left join billed_rows
    on coalesce(daily.customer_id, lines.customer_id) = billed_rows.customer_id
    and coalesce(daily.billing_period, lines.billing_period) = billed_rows.billing_period
where coalesce(daily.billed_cost, 0) <> coalesce(lines.billed_cost, 0)
    or coalesce(billed_rows.amortized_cost, 0) <> coalesce(lines.amortized_cost, 0)
    or coalesce(billed_rows.unblended_cost, 0) <> coalesce(lines.unblended_cost, 0)
