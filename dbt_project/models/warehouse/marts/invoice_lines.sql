-- Invoice lines (docs/BILLING_RULES.md): priced AWS costs per product, charge category and pricing
-- rule; the customer's share of AWS support ('support_reallocation') or the partner's support plan
-- ('SUPPORT:partner_plan'); custom fees and credits ('CUSTOM:<item_id>'); a 'TAX' line for customers
-- with a tax rate, computed on the subtotal of their rounded lines. AWS and support lines are
-- converted to the invoice currency at the month's rate; each line is rounded half away from zero
-- to the currency's minor unit, and the invoice total is the sum of the rounded lines.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

support_allocations as (

    select * from {{ ref('int_support_allocations') }}

),

support_plans as (

    select * from {{ ref('int_partner_support_plans') }}

),

custom_items as (

    select * from {{ ref('int_custom_line_items') }}

),

fx_rates as (

    select * from {{ ref('int_invoice_fx_rates') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

aws_lines as (

    select
        customer_id,
        billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        cast('aws' as varchar(16)) as line_source,
        currency_code as source_currency_code,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        -- one value per line: a rule has one adjustment_pct
        cast(max(adjustment_pct) as decimal(9, 4)) as adjustment_pct,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost

    from priced
    -- discounts and credits not passed through, AWS tax replaced by a tax rate and support
    -- reallocated below are not billed here
    where billing_treatment = 'billed'
    group by
        customer_id,
        billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        currency_code

),

support_lines as (

    select
        customer_id,
        billing_period,
        product_code,
        cast('support' as varchar(32)) as charge_category,
        cast('support_reallocation' as varchar(64)) as pricing_rule_id,
        cast('support' as varchar(16)) as line_source,
        currency_code as source_currency_code,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost

    from support_allocations
    where support_mode = 'reallocate'
    group by customer_id, billing_period, product_code, currency_code

),

-- lines priced in the CUR currency, converted to the invoice currency
converted_lines as (

    select
        lines.customer_id,
        lines.billing_period,
        lines.product_code,
        lines.charge_category,
        lines.pricing_rule_id,
        lines.line_source,
        lines.source_currency_code,
        fx_rates.currency_code,
        fx_rates.fx_rate,
        fx_rates.fx_rate_period,
        lines.unblended_cost,
        lines.amortized_cost,
        lines.basis_cost,
        lines.adjustment_pct,
        lines.billed_cost,
        {{ convert_at_rate('lines.billed_cost', 'fx_rates.fx_rate') }} as invoice_billed_cost

    from (
        select * from aws_lines
        union all
        select * from support_lines
    ) as lines
    left join fx_rates
        on lines.customer_id = fx_rates.customer_id
        and lines.billing_period = fx_rates.billing_period
        and lines.source_currency_code = fx_rates.source_currency_code

),

plan_lines as (

    select
        customer_id,
        billing_period,
        cast('SUPPORT:partner_plan' as varchar(256)) as product_code,
        cast('support' as varchar(32)) as charge_category,
        cast('partner_support_plan' as varchar(64)) as pricing_rule_id,
        cast('support' as varchar(16)) as line_source,
        currency_code as source_currency_code,
        currency_code,
        cast(1 as decimal(18, 8)) as fx_rate,
        billing_period as fx_rate_period,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        billed_cost,
        billed_cost as invoice_billed_cost

    from support_plans

),

custom_lines as (

    select
        customer_id,
        billing_period,
        cast('CUSTOM:' || item_id as varchar(256)) as product_code,
        cast(case when kind = 'credit' then 'credit' else 'fee' end as varchar(32)) as charge_category,
        item_id as pricing_rule_id,
        cast('custom' as varchar(16)) as line_source,
        currency_code as source_currency_code,
        currency_code,
        cast(1 as decimal(18, 8)) as fx_rate,
        billing_period as fx_rate_period,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        billed_cost,
        billed_cost as invoice_billed_cost

    from custom_items

),

pre_tax_lines as (

    select * from converted_lines
    union all
    select * from plan_lines
    union all
    select * from custom_lines

),

rounded_pre_tax_lines as (

    select
        pre_tax_lines.*,
        -- each line is rounded half away from zero to the currency's minor unit
        {{ round_to_minor_unit('pre_tax_lines.invoice_billed_cost', 'currencies.minor_unit') }} as amount

    from pre_tax_lines
    left join currencies
        on pre_tax_lines.currency_code = currencies.currency_code

),

subtotals as (

    select
        customer_id,
        billing_period,
        currency_code,
        cast(sum(amount) as decimal(18, 2)) as subtotal

    from rounded_pre_tax_lines
    group by customer_id, billing_period, currency_code

),

tax_rated as (

    select
        subtotals.customer_id,
        subtotals.billing_period,
        cast('TAX' as varchar(256)) as product_code,
        cast('tax' as varchar(32)) as charge_category,
        cast('tax_rate' as varchar(64)) as pricing_rule_id,
        cast('tax' as varchar(16)) as line_source,
        subtotals.currency_code as source_currency_code,
        subtotals.currency_code,
        cast(1 as decimal(18, 8)) as fx_rate,
        subtotals.billing_period as fx_rate_period,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        -- tax_rate_pct % of the invoice subtotal (the rounded lines)
        {{ percent_of('subtotals.subtotal', 'customers.tax_rate_pct') }} as billed_cost

    from subtotals
    inner join customers
        on subtotals.customer_id = customers.customer_id
        and subtotals.billing_period = customers.billing_period
    where customers.tax_mode = 'rate'

),

tax_lines as (

    select
        tax_rated.*,
        tax_rated.billed_cost as invoice_billed_cost,
        {{ round_to_minor_unit('tax_rated.billed_cost', 'currencies.minor_unit') }} as amount

    from tax_rated
    left join currencies
        on tax_rated.currency_code = currencies.currency_code

),

lines as (

    select * from rounded_pre_tax_lines
    union all
    select * from tax_lines

)

select * from lines
