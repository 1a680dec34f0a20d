-- Every allocation tag key carries the whole staged cost of each payer and period, to the cent:
-- tagged plus untagged equals the total, so an allocation by tag never drops or doubles cost.
with

staged as (

    {{ staged_totals() }}

),

by_key as (

    select
        tags.tag_key,
        tags.payer_account_id,
        tags.billing_period,
        cast(sum(tags.unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(tags.amortized_cost) as decimal(38, 10)) as amortized_cost,
        sum(tags.line_item_count) as line_item_count
    from {{ ref('stg_cur__daily_tag_costs') }} as tags
    group by tags.tag_key, tags.payer_account_id, tags.billing_period

),

expected as (

    select keys.tag_key, staged.*
    from staged
    cross join {{ ref('allocation_tag_keys') }} as keys

)

select
    expected.tag_key,
    expected.payer_account_id,
    expected.billing_period,
    expected.amortized_cost as staged_amortized_cost,
    by_key.amortized_cost as tag_amortized_cost
from expected
left join by_key
    on expected.tag_key = by_key.tag_key
    and expected.payer_account_id = by_key.payer_account_id
    and expected.billing_period = by_key.billing_period
where by_key.tag_key is null
    or by_key.unblended_cost <> expected.unblended_cost
    or by_key.amortized_cost <> expected.amortized_cost
    or by_key.line_item_count <> expected.line_item_count
