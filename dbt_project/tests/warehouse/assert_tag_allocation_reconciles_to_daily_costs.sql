-- For every customer, billing period and allocation tag key, the tag allocation (tagged values
-- plus 'untagged') carries exactly the customer's cost in daily_costs: unblended, amortized,
-- on its basis, and the raw line count. Unrounded decimal sums: equal to the cent and beyond.
with

customers as (

    select * from {{ ref('int_customer_terms') }}

),

daily_totals as (

    select
        daily_costs.billing_period,
        daily_costs.customer_id,
        cast(sum(daily_costs.unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(daily_costs.amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(
            case
                when customers.basis = 'unblended' then daily_costs.unblended_cost
                else daily_costs.amortized_cost
            end
        ) as decimal(38, 10)) as basis_cost,
        sum(daily_costs.line_item_count) as line_item_count
    from {{ ref('daily_costs') }} as daily_costs
    left join customers
        on daily_costs.customer_id = customers.customer_id
        and daily_costs.billing_period = customers.billing_period
    group by daily_costs.billing_period, daily_costs.customer_id

),

-- every configured key must carry the customer's whole cost
expected as (

    select
        daily_totals.billing_period,
        daily_totals.customer_id,
        keys.tag_key,
        daily_totals.unblended_cost,
        daily_totals.amortized_cost,
        daily_totals.basis_cost,
        daily_totals.line_item_count
    from daily_totals
    cross join {{ ref('allocation_tag_keys') }} as keys

),

allocated as (

    select
        billing_period,
        customer_id,
        tag_key,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        sum(line_item_count) as line_item_count
    from {{ ref('cost_allocation_by_tag') }}
    group by billing_period, customer_id, tag_key

),

compared as (

    select
        coalesce(expected.billing_period, allocated.billing_period) as billing_period,
        coalesce(expected.customer_id, allocated.customer_id) as customer_id,
        coalesce(expected.tag_key, allocated.tag_key) as tag_key,
        expected.unblended_cost as daily_unblended_cost,
        allocated.unblended_cost as allocated_unblended_cost,
        expected.amortized_cost as daily_amortized_cost,
        allocated.amortized_cost as allocated_amortized_cost,
        expected.basis_cost as daily_basis_cost,
        allocated.basis_cost as allocated_basis_cost,
        expected.line_item_count as daily_line_item_count,
        allocated.line_item_count as allocated_line_item_count
    from expected
    full outer join allocated
        on expected.billing_period = allocated.billing_period
        and expected.customer_id = allocated.customer_id
        and expected.tag_key = allocated.tag_key

)

select *
from compared
where daily_unblended_cost is null
    or allocated_unblended_cost is null
    or daily_unblended_cost <> allocated_unblended_cost
    or daily_amortized_cost <> allocated_amortized_cost
    or daily_basis_cost <> allocated_basis_cost
    or daily_line_item_count <> allocated_line_item_count
