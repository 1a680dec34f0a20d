-- From the staged CUR to the invoices, per billing period, payer and customer: every
-- difference is attributed to a named rule. Rows with bridge_level 'payer' start at the staged
-- cost of the payer's rows billed to the customer; the customer's row with bridge_level
-- 'invoice' (payer_account_id 'invoice') carries what is decided per invoice: custom items,
-- the tax rate and rounding. On every row:
--   staged_amortized_cost + basis_delta = basis_cost (the pre-pricing cost)
--   staged_amortized_cost + basis_delta + pass_through_delta + pricing_delta
--     + custom_items_delta + tax_delta + rounding_delta = invoiced_amount
-- and a customer's invoiced_amount summed over its rows is its invoice total.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

payer_rows as (

    select
        billing_period,
        payer_account_id,
        customer_id,
        cast('payer' as varchar(16)) as bridge_level,
        cast(sum(unblended_cost) as decimal(38, 10)) as staged_unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as staged_amortized_cost,
        cast(sum(basis_cost - amortized_cost) as decimal(38, 10)) as basis_delta,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        cast(
            -sum(case when billing_treatment = 'not_passed_through' then basis_cost else 0 end)
            as decimal(38, 10)
        ) as pass_through_delta,
        cast(
            sum(case when billing_treatment = 'billed' then billed_cost - basis_cost else 0 end)
            as decimal(38, 10)
        ) as pricing_delta,
        cast(0 as decimal(38, 10)) as custom_items_delta,
        cast(
            -sum(case when billing_treatment = 'replaced_by_tax_rate' then basis_cost else 0 end)
            as decimal(38, 10)
        ) as tax_delta,
        cast(0 as decimal(38, 10)) as rounding_delta,
        cast(sum(billed_cost) as decimal(38, 10)) as invoiced_amount

    from priced
    group by billing_period, payer_account_id, customer_id

),

invoice_rows as (

    select
        billing_period,
        cast('invoice' as varchar(64)) as payer_account_id,
        customer_id,
        cast('invoice' as varchar(16)) as bridge_level,
        cast(0 as decimal(38, 10)) as staged_unblended_cost,
        cast(0 as decimal(38, 10)) as staged_amortized_cost,
        cast(0 as decimal(38, 10)) as basis_delta,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(38, 10)) as pass_through_delta,
        cast(0 as decimal(38, 10)) as pricing_delta,
        cast(sum(case when line_source = 'custom' then billed_cost else 0 end) as decimal(38, 10))
            as custom_items_delta,
        cast(sum(case when line_source = 'tax' then billed_cost else 0 end) as decimal(38, 10)) as tax_delta,
        cast(sum(amount - billed_cost) as decimal(38, 10)) as rounding_delta,
        cast(
            sum(case when line_source = 'aws' then 0 else billed_cost end) + sum(amount - billed_cost)
            as decimal(38, 10)
        ) as invoiced_amount

    from invoice_lines
    group by billing_period, customer_id

),

bridge as (

    select * from payer_rows
    union all
    select * from invoice_rows

)

select * from bridge
