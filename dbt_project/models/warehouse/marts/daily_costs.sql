with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

daily as (

    select
        billing_period,
        usage_date,
        customer_id,
        payer_account_id,
        usage_account_id,
        product_code,
        charge_category,
        currency_code,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost,
        cast(sum(line_item_count) as bigint) as line_item_count

    from priced
    group by
        billing_period,
        usage_date,
        customer_id,
        payer_account_id,
        usage_account_id,
        product_code,
        charge_category,
        currency_code

)

select * from daily
