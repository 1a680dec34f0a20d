-- Per payer and billing period, the daily_costs mart carries exactly the staged
-- unblended and amortized cost (decimal sums: equal to the cent and beyond).
with

staged as (

    {{ staged_totals() }}

),

mart as (

    select
        payer_account_id,
        billing_period,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost
    from {{ ref('daily_costs') }}
    group by payer_account_id, billing_period

),

compared as (

    select
        coalesce(staged.payer_account_id, mart.payer_account_id) as payer_account_id,
        coalesce(staged.billing_period, mart.billing_period) as billing_period,
        staged.unblended_cost as staged_unblended_cost,
        mart.unblended_cost as mart_unblended_cost,
        staged.amortized_cost as staged_amortized_cost,
        mart.amortized_cost as mart_amortized_cost
    from staged
    full outer join mart
        on staged.payer_account_id = mart.payer_account_id
        and staged.billing_period = mart.billing_period

)

select *
from compared
where staged_unblended_cost is null
    or mart_unblended_cost is null
    or staged_unblended_cost <> mart_unblended_cost
    or staged_amortized_cost <> mart_amortized_cost
