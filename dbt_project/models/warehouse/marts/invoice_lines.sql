-- Invoice lines: priced AWS costs per product, charge category and pricing rule; custom fees
-- and credits ('CUSTOM:<item_id>'); a 'TAX' line for customers with a tax rate, computed on the
-- subtotal of their rounded lines. Each line is rounded half away from zero to the cent.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

custom_items as (

    select * from {{ ref('int_custom_line_items') }}

),

customers as (

    select * from {{ ref('customers') }}

),

aws_lines as (

    select
        customer_id,
        billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        cast('aws' as varchar(16)) as line_source,
        currency_code,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        -- one value per line: a rule has one adjustment_pct
        cast(max(adjustment_pct) as decimal(9, 4)) as adjustment_pct,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost

    from priced
    -- discounts and credits not passed through, and AWS tax replaced by a tax rate, are not billed
    where billing_treatment = 'billed'
    group by
        customer_id,
        billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        currency_code

),

custom_lines as (

    select
        customer_id,
        billing_period,
        cast('CUSTOM:' || item_id as varchar(256)) as product_code,
        cast(case when kind = 'credit' then 'credit' else 'fee' end as varchar(32)) as charge_category,
        item_id as pricing_rule_id,
        cast('custom' as varchar(16)) as line_source,
        currency_code,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        billed_cost

    from custom_items

),

pre_tax_lines as (

    select * from aws_lines
    union all
    select * from custom_lines

),

rounded_pre_tax_lines as (

    select
        pre_tax_lines.*,
        -- each line is rounded half away from zero to the cent
        {{ round_half_away_from_zero('billed_cost', 2) }} as amount

    from pre_tax_lines

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
        subtotals.currency_code,
        cast(0 as decimal(38, 10)) as unblended_cost,
        cast(0 as decimal(38, 10)) as amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(9, 4)) as adjustment_pct,
        -- tax_rate_pct % of the invoice subtotal (the rounded lines)
        {{ percent_of('subtotals.subtotal', 'customers.tax_rate_pct') }} as billed_cost

    from subtotals
    inner join customers
        on subtotals.customer_id = customers.customer_id
    where customers.tax_mode = 'rate'

),

tax_lines as (

    select
        tax_rated.*,
        {{ round_half_away_from_zero('billed_cost', 2) }} as amount

    from tax_rated

),

lines as (

    select * from rounded_pre_tax_lines
    union all
    select * from tax_lines

)

select * from lines
