-- Cost by tag value, for each configured allocation tag key: every raw line appears once per key, with
-- its value or null (untagged), so each key's totals equal the partition's totals.
with raw_lines as (
    select * from $raw_lines
),

tagged as (
$tagged_lines
),

costed as (
    select
        cast(bill_billing_period_start_date as date) as billing_period,
        bill_payer_account_id as payer_account_id,
        line_item_usage_account_id as usage_account_id,
        cast(line_item_usage_start_date as date) as usage_date,
        line_item_line_item_type as line_item_type,
        line_item_product_code as product_code,
        coalesce(line_item_usage_type, '') as usage_type,
        tag_key,
        tag_value,
        line_item_unblended_cost as unblended_cost,
        $amortized_cost as amortized_cost
    from tagged
)

select
    billing_period,
    payer_account_id,
    usage_account_id,
    usage_date,
    line_item_type,
    product_code,
    usage_type,
    tag_key,
    tag_value,
    cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
    cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
    count(*) as line_item_count,
    $manifest_id as manifest_id
from costed
group by 1, 2, 3, 4, 5, 6, 7, 8, 9
