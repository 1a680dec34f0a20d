-- From the staged CUR to the invoices, per billing period, payer and customer: every difference
-- is attributed to a named rule (docs/BILLING_RULES.md). Rows with bridge_level 'payer' are in
-- the CUR currency and start at the staged cost of the payer's rows billed to the customer; the
-- customer's row with bridge_level 'invoice' (payer_account_id 'invoice') carries what is decided
-- per invoice, in the invoice currency: the conversion of the payer rows (fx_delta), the partner
-- support plan, custom items, the tax rate and rounding. On every row:
--   staged_amortized_cost + basis_delta = basis_cost (the pre-pricing cost)
--   basis_cost + rerating_delta + pass_through_delta + support_delta + pricing_delta
--     + fx_delta + custom_items_delta + tax_delta + rounding_delta = invoiced_amount
-- and a customer's invoiced_amount summed over its rows is its invoice total.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

support_allocations as (

    select * from {{ ref('int_support_allocations') }}

),

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

priced_by_payer as (

    select
        billing_period,
        payer_account_id,
        customer_id,
        cast(sum(unblended_cost) as decimal(38, 10)) as staged_unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as staged_amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        cast(sum(rerated_cost - basis_cost) as decimal(38, 10)) as rerating_delta,
        cast(
            -sum(case when billing_treatment = 'not_passed_through' then rerated_cost else 0 end)
            as decimal(38, 10)
        ) as pass_through_delta,
        -- the support rows leave the customer they were assigned to ...
        cast(
            -sum(case when billing_treatment = 'reallocated_support' then rerated_cost else 0 end)
            as decimal(38, 10)
        ) as support_delta,
        cast(
            sum(case when billing_treatment = 'billed' then billed_cost - rerated_cost else 0 end)
            as decimal(38, 10)
        ) as pricing_delta,
        cast(
            -sum(case when billing_treatment = 'replaced_by_tax_rate' then rerated_cost else 0 end)
            as decimal(38, 10)
        ) as tax_delta,
        cast(sum(billed_cost) as decimal(38, 10)) as invoiced_amount

    from priced
    group by billing_period, payer_account_id, customer_id

),

-- ... and the billed shares arrive at the customers of the payer
support_by_payer as (

    select
        billing_period,
        payer_account_id,
        customer_id,
        cast(0 as decimal(38, 10)) as staged_unblended_cost,
        cast(0 as decimal(38, 10)) as staged_amortized_cost,
        cast(0 as decimal(38, 10)) as basis_cost,
        cast(0 as decimal(38, 10)) as rerating_delta,
        cast(0 as decimal(38, 10)) as pass_through_delta,
        cast(sum(billed_cost) as decimal(38, 10)) as support_delta,
        cast(0 as decimal(38, 10)) as pricing_delta,
        cast(0 as decimal(38, 10)) as tax_delta,
        cast(sum(billed_cost) as decimal(38, 10)) as invoiced_amount

    from support_allocations
    group by billing_period, payer_account_id, customer_id

),

payer_rows as (

    select
        billing_period,
        payer_account_id,
        customer_id,
        cast('payer' as varchar(16)) as bridge_level,
        cast(sum(staged_unblended_cost) as decimal(38, 10)) as staged_unblended_cost,
        cast(sum(staged_amortized_cost) as decimal(38, 10)) as staged_amortized_cost,
        cast(sum(basis_cost - staged_amortized_cost) as decimal(38, 10)) as basis_delta,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost,
        cast(sum(rerating_delta) as decimal(38, 10)) as rerating_delta,
        cast(sum(pass_through_delta) as decimal(38, 10)) as pass_through_delta,
        cast(sum(support_delta) as decimal(38, 10)) as support_delta,
        cast(sum(pricing_delta) as decimal(38, 10)) as pricing_delta,
        cast(0 as decimal(38, 10)) as fx_delta,
        cast(0 as decimal(38, 10)) as custom_items_delta,
        cast(sum(tax_delta) as decimal(38, 10)) as tax_delta,
        cast(0 as decimal(38, 10)) as rounding_delta,
        cast(sum(invoiced_amount) as decimal(38, 10)) as invoiced_amount

    from (
        select * from priced_by_payer
        union all
        select * from support_by_payer
    ) as payer_parts
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
        cast(0 as decimal(38, 10)) as rerating_delta,
        cast(0 as decimal(38, 10)) as pass_through_delta,
        cast(
            sum(case when pricing_rule_id = 'partner_support_plan' then invoice_billed_cost else 0 end)
            as decimal(38, 10)
        ) as support_delta,
        cast(0 as decimal(38, 10)) as pricing_delta,
        -- the payer rows' amounts (CUR currency) converted to the invoice currency
        cast(sum(invoice_billed_cost - billed_cost) as decimal(38, 10)) as fx_delta,
        cast(sum(case when line_source = 'custom' then invoice_billed_cost else 0 end) as decimal(38, 10))
            as custom_items_delta,
        cast(sum(case when line_source = 'tax' then invoice_billed_cost else 0 end) as decimal(38, 10))
            as tax_delta,
        cast(sum(amount - invoice_billed_cost) as decimal(38, 10)) as rounding_delta,
        cast(
            sum(
                case
                    when line_source in ('custom', 'tax') or pricing_rule_id = 'partner_support_plan'
                        then invoice_billed_cost
                    else invoice_billed_cost - billed_cost
                end
            )
            + sum(amount - invoice_billed_cost)
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
