with

costs as (

    select * from {{ ref('int_costs_assigned_to_customers') }}

),

customer_pricing as (

    select * from {{ ref('customer_pricing') }}

),

joined as (

    select
        costs.*,
        -- tax passes through at cost; a customer without a price is billed at cost
        cast(
            case
                when costs.charge_category = 'tax' then 0
                else coalesce(customer_pricing.adjustment_pct, 0)
            end
            as decimal(9, 4)
        ) as adjustment_pct

    from costs
    left join customer_pricing
        on costs.customer_id = customer_pricing.customer_id
        and costs.usage_date >= customer_pricing.effective_from
        and (
            customer_pricing.effective_to is null
            or costs.usage_date < customer_pricing.effective_to
        )

),

priced as (

    select
        billing_period,
        payer_account_id,
        usage_account_id,
        usage_date,
        customer_id,
        line_item_type,
        charge_category,
        product_code,
        currency_code,
        aws_invoice_id,
        unblended_cost,
        amortized_cost,
        adjustment_pct,
        -- invoice rule: basis = amortized cost, billed = amortized * (1 + adjustment_pct / 100)
        {{ apply_adjustment_pct('amortized_cost', 'adjustment_pct') }} as billed_cost,
        line_item_count

    from joined

)

select * from priced
