-- Cost by tag value, for each configured allocation tag key, from the delivery's folded lines
-- (stage_fold.sql): every raw line appears once per key, with its value or null (untagged), so each key's
-- totals equal the partition's totals.
with tagged as (
$tagged_lines
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
    cast(sum(line_item_count) as bigint) as line_item_count,
    $manifest_id as manifest_id
from tagged
group by 1, 2, 3, 4, 5, 6, 7, 8, 9
