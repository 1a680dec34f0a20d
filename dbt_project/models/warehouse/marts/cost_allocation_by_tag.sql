-- A customer's cost split by the values of each allocation tag key. Untagged cost (no value, or
-- an empty one) is the bucket 'untagged', so for every key the rows add up to the customer's total.
with

tag_costs as (

    select * from {{ ref('int_tag_costs_assigned_to_customers') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

on_basis as (

    select
        tag_costs.billing_period,
        tag_costs.customer_id,
        tag_costs.tag_key,
        cast(coalesce(nullif(tag_costs.tag_value, ''), 'untagged') as varchar(256)) as tag_value,
        cast(coalesce(customers.basis, 'amortized') as varchar(16)) as basis,
        tag_costs.unblended_cost,
        tag_costs.amortized_cost,
        case
            when customers.basis = 'unblended' then tag_costs.unblended_cost
            else tag_costs.amortized_cost
        end as basis_cost,
        tag_costs.line_item_count

    from tag_costs
    left join customers
        on tag_costs.customer_id = customers.customer_id
        and tag_costs.billing_period = customers.billing_period

),

allocated as (

    select
        billing_period,
        customer_id,
        tag_key,
        tag_value,
        basis,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        cast(sum(line_item_count) as bigint) as line_item_count

    from on_basis
    group by
        billing_period,
        customer_id,
        tag_key,
        tag_value,
        basis

),

customer_totals as (

    select
        billing_period,
        customer_id,
        tag_key,
        cast(sum(basis_cost) as decimal(38, 10)) as customer_basis_cost

    from allocated
    group by
        billing_period,
        customer_id,
        tag_key

),

final as (

    select
        allocated.billing_period,
        allocated.customer_id,
        allocated.tag_key,
        allocated.tag_value,
        allocated.basis,
        allocated.unblended_cost,
        allocated.amortized_cost,
        allocated.basis_cost,
        allocated.line_item_count,
        -- null when the customer's total for the key is 0: no meaningful share
        {{ ratio('allocated.basis_cost', 'customer_totals.customer_basis_cost') }} as share_of_customer_cost

    from allocated
    inner join customer_totals
        on allocated.billing_period = customer_totals.billing_period
        and allocated.customer_id = customer_totals.customer_id
        and allocated.tag_key = customer_totals.tag_key

)

select * from final
