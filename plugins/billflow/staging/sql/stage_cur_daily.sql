-- The staged partition: the delivery's folded lines (stage_fold.sql) summed over their tag values.
select
    billing_period,
    payer_account_id,
    usage_account_id,
    usage_date,
    line_item_type,
    product_code,
    usage_type,
    operation,
    region,
    product_name,
    pricing_unit,
    currency_code,
    bill_type,
    invoice_id,
    commitment_arn,
    cast(sum(usage_amount) as decimal(38, 10)) as usage_amount,
    cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
    cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
    cast(sum(public_on_demand_cost) as decimal(38, 10)) as public_on_demand_cost,
    cast(sum(line_item_count) as bigint) as line_item_count,
    $manifest_id as manifest_id,
    $source_format as source_format
from $folded
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
