-- billing.daily_costs carries exactly the published daily costs, per billing period.
with

published as (

    select
        billing_period,
        count(*) as row_count,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost,
        cast(sum(line_item_count) as bigint) as line_item_count
    from {{ source('published', 'daily_costs') }}
    group by billing_period

),

serving as (

    select
        billing_period,
        count(*) as row_count,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost,
        cast(sum(line_item_count) as bigint) as line_item_count
    from {{ ref('serving_daily_costs') }}
    group by billing_period

)

select
    coalesce(published.billing_period, serving.billing_period) as billing_period,
    published.amortized_cost as published_amortized_cost,
    serving.amortized_cost as serving_amortized_cost
from published
full outer join serving
    on published.billing_period = serving.billing_period
where published.billing_period is null
    or serving.billing_period is null
    or published.row_count <> serving.row_count
    or published.amortized_cost <> serving.amortized_cost
    or published.billed_cost <> serving.billed_cost
    or published.line_item_count <> serving.line_item_count
