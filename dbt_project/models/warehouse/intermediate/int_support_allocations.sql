-- The AWS support charge of each payer, billing period and support product, shared among the
-- customers of the payer by their eligible spend there (re-rated basis cost of usage and
-- commitments). Each share is rounded half away from zero to 1e-10 (share_of) and the customer with
-- the largest eligible spend takes the remainder, so they add up to the pool exactly. Without eligible spend the pool stays with the
-- customer its rows are assigned to. support_mode says whether the share is billed (`reallocate`)
-- or absorbed by the partner's own plan (`partner_plan`).
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

pools as (

    select
        billing_period,
        payer_account_id,
        product_code,
        currency_code,
        cast(sum(amortized_cost) as decimal(38, 10)) as pool_cost

    from priced
    where billing_treatment = 'reallocated_support'
    group by billing_period, payer_account_id, product_code, currency_code

),

eligible as (

    select
        billing_period,
        payer_account_id,
        customer_id,
        cast(sum(rerated_cost) as decimal(38, 10)) as eligible_cost

    from priced
    where charge_category in ('usage', 'commitment')
        and billing_treatment = 'billed'
    group by billing_period, payer_account_id, customer_id
    having sum(rerated_cost) > 0

),

-- the customer the support rows themselves are assigned to: the fallback without eligible spend
pool_owners as (

    select
        billing_period,
        payer_account_id,
        product_code,
        min(customer_id) as customer_id

    from priced
    where billing_treatment = 'reallocated_support'
    group by billing_period, payer_account_id, product_code

),

ranked as (

    select
        pools.billing_period,
        pools.payer_account_id,
        pools.product_code,
        pools.currency_code,
        pools.pool_cost,
        eligible.customer_id,
        eligible.eligible_cost,
        sum(eligible.eligible_cost) over (
            partition by pools.billing_period, pools.payer_account_id, pools.product_code
        ) as total_eligible_cost,
        row_number() over (
            partition by pools.billing_period, pools.payer_account_id, pools.product_code
            order by eligible.eligible_cost desc, eligible.customer_id
        ) as share_rank

    from pools
    inner join eligible
        on pools.billing_period = eligible.billing_period
        and pools.payer_account_id = eligible.payer_account_id

),

pro_rata as (

    select
        ranked.*,
        {{ share_of('pool_cost', 'eligible_cost', 'total_eligible_cost') }} as pro_rata_cost

    from ranked

),

shared as (

    select
        billing_period,
        payer_account_id,
        product_code,
        currency_code,
        customer_id,
        pool_cost,
        eligible_cost,
        total_eligible_cost,
        cast(
            case
                when share_rank = 1
                    then pool_cost - (
                        sum(pro_rata_cost) over (partition by billing_period, payer_account_id, product_code)
                        - pro_rata_cost
                    )
                else pro_rata_cost
            end
            as decimal(38, 10)
        ) as allocated_cost

    from pro_rata

),

unshared as (

    select
        pools.billing_period,
        pools.payer_account_id,
        pools.product_code,
        pools.currency_code,
        pool_owners.customer_id,
        pools.pool_cost,
        cast(0 as decimal(38, 10)) as eligible_cost,
        cast(0 as decimal(38, 10)) as total_eligible_cost,
        pools.pool_cost as allocated_cost

    from pools
    inner join pool_owners
        on pools.billing_period = pool_owners.billing_period
        and pools.payer_account_id = pool_owners.payer_account_id
        and pools.product_code = pool_owners.product_code
    where not exists (
        select 1
        from eligible
        where eligible.billing_period = pools.billing_period
            and eligible.payer_account_id = pools.payer_account_id
    )

),

allocations as (

    select * from shared
    union all
    select * from unshared

),

final as (

    select
        allocations.billing_period,
        allocations.payer_account_id,
        cast(allocations.product_code as varchar(256)) as product_code,
        cast(allocations.currency_code as varchar(3)) as currency_code,
        cast(allocations.customer_id as varchar(64)) as customer_id,
        cast(coalesce(customers.support_mode, 'reallocate') as varchar(16)) as support_mode,
        allocations.pool_cost,
        allocations.eligible_cost,
        allocations.total_eligible_cost,
        allocations.allocated_cost,
        -- the share billed to the customer: none under the partner's own plan
        cast(
            case
                when coalesce(customers.support_mode, 'reallocate') = 'reallocate' then allocations.allocated_cost
                else 0
            end
            as decimal(38, 10)
        ) as billed_cost

    from allocations
    left join customers
        on allocations.customer_id = customers.customer_id
        and allocations.billing_period = customers.billing_period

)

select * from final
