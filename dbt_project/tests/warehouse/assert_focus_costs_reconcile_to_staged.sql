-- Per billing account (payer) and billing period, the FOCUS mart carries exactly the staged cost:
-- BilledCost = unblended and EffectiveCost = amortized (decimal sums: equal to the cent and beyond),
-- and no partition is missing or extra on either side.
with

staged as (

    {{ staged_totals() }}

),

focus as (

    select
        billing_account_id as payer_account_id,
        billing_period,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost,
        cast(sum(effective_cost) as decimal(38, 10)) as effective_cost
    from {{ ref('focus_charges') }}
    group by billing_account_id, billing_period

),

compared as (

    select
        coalesce(staged.payer_account_id, focus.payer_account_id) as payer_account_id,
        coalesce(staged.billing_period, focus.billing_period) as billing_period,
        staged.unblended_cost as staged_unblended_cost,
        focus.billed_cost as focus_billed_cost,
        staged.amortized_cost as staged_amortized_cost,
        focus.effective_cost as focus_effective_cost
    from staged
    full outer join focus
        on staged.payer_account_id = focus.payer_account_id
        and staged.billing_period = focus.billing_period

)

select *
from compared
where staged_unblended_cost is null
    or focus_billed_cost is null
    or staged_unblended_cost <> focus_billed_cost
    or staged_amortized_cost <> focus_effective_cost
