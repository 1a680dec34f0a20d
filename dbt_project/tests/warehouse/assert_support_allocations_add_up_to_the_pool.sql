-- The shares of each payer's AWS support charge add up exactly to the charge, and the charge is
-- the support rows that int_costs_priced took off the customer they were assigned to.
with

support_rows as (

    select
        billing_period,
        payer_account_id,
        product_code,
        cast(sum(amortized_cost) as decimal(38, 10)) as support_cost
    from {{ ref('int_costs_priced') }}
    where billing_treatment = 'reallocated_support'
    group by billing_period, payer_account_id, product_code

),

shares as (

    select
        billing_period,
        payer_account_id,
        product_code,
        cast(sum(allocated_cost) as decimal(38, 10)) as allocated_cost
    from {{ ref('int_support_allocations') }}
    group by billing_period, payer_account_id, product_code

)

select
    coalesce(support_rows.billing_period, shares.billing_period) as billing_period,
    coalesce(support_rows.payer_account_id, shares.payer_account_id) as payer_account_id,
    coalesce(support_rows.product_code, shares.product_code) as product_code,
    support_rows.support_cost,
    shares.allocated_cost
from support_rows
full outer join shares
    on support_rows.billing_period = shares.billing_period
    and support_rows.payer_account_id = shares.payer_account_id
    and support_rows.product_code = shares.product_code
where support_rows.support_cost is null
    or shares.allocated_cost is null
    or support_rows.support_cost <> shares.allocated_cost
