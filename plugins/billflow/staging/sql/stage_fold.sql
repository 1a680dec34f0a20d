-- One pass over a delivery's typed raw lines: amortized and folded to the staged daily grain, each group
-- split further by the values of the allocation tags (tag_value_<n>). The staged rows
-- (stage_cur_daily.sql) and the cost by tag (stage_cur_daily_tags.sql) are both sums of it, so the raw
-- files are read once for the two.
with raw_lines as (
    select * from $raw_lines
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
        coalesce(line_item_operation, '') as operation,
        coalesce(product_region, '') as region,
        coalesce(product_product_name, '') as product_name,
        coalesce(pricing_unit, '') as pricing_unit,
        line_item_currency_code as currency_code,
        bill_bill_type as bill_type,
        bill_invoice_id as invoice_id,
        coalesce(savings_plan_savings_plan_a_r_n, reservation_reservation_a_r_n) as commitment_arn,
        $tag_values
        line_item_usage_amount as usage_amount,
        line_item_unblended_cost as unblended_cost,
        $amortized_cost as amortized_cost,
        pricing_public_on_demand_cost as public_on_demand_cost
    from raw_lines
)

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
    $tag_values
    cast(sum(usage_amount) as decimal(38, 10)) as usage_amount,
    cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
    cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
    cast(sum(public_on_demand_cost) as decimal(38, 10)) as public_on_demand_cost,
    count(*) as line_item_count
from costed
group by $group_by
