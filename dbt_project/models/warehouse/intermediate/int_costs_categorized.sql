with

costs as (

    select * from {{ ref('stg_cur__daily_costs') }}

),

line_item_types as (

    select * from {{ ref('line_item_types') }}

),

categorized as (

    select
        costs.billing_period,
        costs.payer_account_id,
        costs.usage_account_id,
        costs.usage_date,
        costs.line_item_type,
        line_item_types.charge_category,
        line_item_types.pass_through_class,
        costs.product_code,
        costs.usage_type,
        costs.currency_code,
        costs.aws_invoice_id,
        costs.commitment_arn,
        costs.unblended_cost,
        costs.amortized_cost,
        costs.public_on_demand_cost,
        costs.line_item_count

    from costs
    -- left join: an unmapped line item type keeps its row (charge_category null) and
    -- fails the not_null test instead of silently disappearing
    left join line_item_types
        on costs.line_item_type = line_item_types.line_item_type

)

select * from categorized
