{{ config(alias='daily_costs') }}

with

published_daily_costs as (

    select * from {{ source('published', 'daily_costs') }}

),

final as (

    select
        cast(billing_period as date) as billing_period,
        cast(usage_date as date) as usage_date,
        cast(customer_id as varchar(64)) as customer_id,
        cast(payer_account_id as varchar(64)) as payer_account_id,
        cast(usage_account_id as varchar(64)) as usage_account_id,
        cast(product_code as varchar(256)) as product_code,
        cast(charge_category as varchar(32)) as charge_category,
        cast(currency_code as varchar(3)) as currency_code,
        cast(unblended_cost as decimal(38, 10)) as unblended_cost,
        cast(amortized_cost as decimal(38, 10)) as amortized_cost,
        cast(billed_cost as decimal(38, 10)) as billed_cost,
        cast(line_item_count as bigint) as line_item_count

    from published_daily_costs

)

select * from final
