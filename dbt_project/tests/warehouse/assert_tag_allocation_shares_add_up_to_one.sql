-- For every customer, billing period and tag key with a non-zero total, the shares of its tag
-- values add up to 1, up to their rounding (half of 1e-10 per value).
with

shares as (

    select
        billing_period,
        customer_id,
        tag_key,
        count(*) as value_count,
        count(share_of_customer_cost) as share_count,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        cast(sum(share_of_customer_cost) as decimal(38, 10)) as share_total
    from {{ ref('cost_allocation_by_tag') }}
    group by billing_period, customer_id, tag_key

)

select *
from shares
where basis_cost <> 0
    and (
        share_count <> value_count
        or abs(share_total - 1) > value_count * cast(0.00000000005 as decimal(12, 11))
    )
