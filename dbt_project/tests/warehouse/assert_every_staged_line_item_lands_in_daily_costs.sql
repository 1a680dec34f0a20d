-- Nothing is dropped or duplicated on the way to the mart: per payer, account and
-- billing period, the raw CUR rows counted in daily_costs equal the staged count.
with

staged as (

    select
        payer_account_id,
        usage_account_id,
        billing_period,
        cast(sum(line_item_count) as bigint) as line_item_count
    from {{ source('staged', 'cur_daily') }}
    group by payer_account_id, usage_account_id, billing_period

),

mart as (

    select
        payer_account_id,
        usage_account_id,
        billing_period,
        cast(sum(line_item_count) as bigint) as line_item_count
    from {{ ref('daily_costs') }}
    group by payer_account_id, usage_account_id, billing_period

)

select
    coalesce(staged.payer_account_id, mart.payer_account_id) as payer_account_id,
    coalesce(staged.usage_account_id, mart.usage_account_id) as usage_account_id,
    coalesce(staged.billing_period, mart.billing_period) as billing_period,
    staged.line_item_count as staged_line_item_count,
    mart.line_item_count as mart_line_item_count
from staged
full outer join mart
    on staged.payer_account_id = mart.payer_account_id
    and staged.usage_account_id = mart.usage_account_id
    and staged.billing_period = mart.billing_period
where staged.line_item_count is null
    or mart.line_item_count is null
    or staged.line_item_count <> mart.line_item_count
