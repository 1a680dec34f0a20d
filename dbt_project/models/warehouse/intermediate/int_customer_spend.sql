-- Each customer's priced spend per billing period in the invoice currency: the billed AWS rows but
-- tax, summed per invoice line and converted line by line as the invoice does. Percent custom items
-- and the partner support plan are percentages of it.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

fx_rates as (

    select * from {{ ref('int_invoice_fx_rates') }}

),

line_costs as (

    select
        customer_id,
        billing_period,
        currency_code as source_currency_code,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost

    from priced
    where billing_treatment = 'billed'
        and charge_category <> 'tax'
    group by customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code

),

spend as (

    select
        line_costs.customer_id,
        line_costs.billing_period,
        fx_rates.currency_code,
        cast(sum({{ convert_at_rate('line_costs.billed_cost', 'fx_rates.fx_rate') }}) as decimal(38, 10)) as spend

    from line_costs
    inner join fx_rates
        on line_costs.customer_id = fx_rates.customer_id
        and line_costs.billing_period = fx_rates.billing_period
        and line_costs.source_currency_code = fx_rates.source_currency_code
    group by line_costs.customer_id, line_costs.billing_period, fx_rates.currency_code

)

select * from spend
