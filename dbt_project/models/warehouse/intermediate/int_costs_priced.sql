-- Assigned cost rows on the customer's basis, re-rated where SP/RI benefits are not shared, with
-- the support, pass-through and tax treatment and the pricing rule applied (docs/BILLING_RULES.md,
-- steps 2 to 5). Not rounded: rounding happens once per invoice line.
-- A table, not a view: every invoice model and test downstream reads it, and a view would replay
-- the staged Parquet, the assignment and the rule matching for each of them.
{{ config(materialized='table') }}

with

costs as (

    select * from {{ ref('int_costs_assigned_to_customers') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

rule_matches as (

    select * from {{ ref('int_pricing_rule_matches') }}

),

joined as (

    select
        costs.*,
        coalesce(customers.basis, 'amortized') as basis,
        coalesce(customers.pass_through_discounts, true) as pass_through_discounts,
        coalesce(customers.pass_through_credits, true) as pass_through_credits,
        coalesce(customers.pass_through_spp_discount, false) as pass_through_spp_discount,
        coalesce(customers.tax_mode, 'pass_through') as tax_mode,
        coalesce(customers.rerate_covered_usage, 'other_customers') as rerate_covered_usage,
        rule_matches.pricing_rule_id as matched_rule_id,
        rule_matches.adjustment_pct as matched_adjustment_pct

    from costs
    left join customers
        on costs.customer_id = customers.customer_id
        and costs.billing_period = customers.billing_period
    left join rule_matches
        on costs.customer_id = rule_matches.customer_id
        and costs.usage_account_id = rule_matches.usage_account_id
        and costs.product_code = rule_matches.product_code
        and costs.usage_type = rule_matches.usage_type
        and costs.usage_date = rule_matches.usage_date

),

based as (

    select
        joined.*,
        -- basis per customer: amortized (default) or unblended
        cast(
            case when basis = 'unblended' then unblended_cost else amortized_cost end
            as decimal(38, 10)
        ) as basis_cost,
        -- SP/RI sharing: covered usage is re-rated to public on-demand for a consumer that did not
        -- buy the commitment (or for every covered row of a customer who asks for it)
        case
            when line_item_type not in ('SavingsPlanCoveredUsage', 'DiscountedUsage', 'SavingsPlanNegation')
                or commitment_buyer_customer_id is null then false
            when rerate_covered_usage = 'all' then true
            else commitment_buyer_customer_id <> customer_id
        end as is_rerated,
        {{ is_support_product('product_code') }}
            and charge_category in ('fee', 'usage', 'refund') as is_support

    from joined

),

treated as (

    select
        based.*,
        cast(
            case
                when not is_rerated then basis_cost
                when line_item_type = 'SavingsPlanNegation' then 0
                else coalesce(public_on_demand_cost, 0)
            end
            as decimal(38, 10)
        ) as rerated_cost,
        -- what happens to the row: billed, reallocated (support), kept by the partner (no
        -- pass-through), or replaced by the customer's tax rate
        cast(
            case
                when is_support then 'reallocated_support'
                when charge_category = 'tax' and tax_mode = 'rate' then 'replaced_by_tax_rate'
                when pass_through_class = 'discount' and not pass_through_discounts then 'not_passed_through'
                when pass_through_class = 'credit' and not pass_through_credits then 'not_passed_through'
                when pass_through_class = 'spp_discount' and not pass_through_spp_discount then 'not_passed_through'
                else 'billed'
            end
            as varchar(32)
        ) as billing_treatment

    from based

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
        pass_through_class,
        product_code,
        usage_type,
        currency_code,
        aws_invoice_id,
        unblended_cost,
        amortized_cost,
        commitment_arn,
        commitment_buyer_customer_id,
        public_on_demand_cost,
        cast(basis as varchar(16)) as basis,
        basis_cost,
        is_rerated,
        rerated_cost,
        billing_treatment,
        -- the rule that priced the row; AWS tax passes through at cost
        cast(
            case
                when billing_treatment <> 'billed' then null
                when charge_category = 'tax' then 'tax_pass_through'
                else matched_rule_id
            end
            as varchar(64)
        ) as pricing_rule_id,
        cast(
            case
                when billing_treatment = 'billed' and charge_category <> 'tax' then matched_adjustment_pct
                else 0
            end
            as decimal(9, 4)
        ) as adjustment_pct,
        case
            when billing_treatment <> 'billed' then cast(0 as decimal(38, 10))
            when charge_category = 'tax' then rerated_cost
            -- billed = re-rated basis * (1 + adjustment_pct / 100); null (a test failure) without a rule
            else {{ apply_adjustment_pct('rerated_cost', 'matched_adjustment_pct') }}
        end as billed_cost,
        line_item_count

    from treated

)

select * from priced
