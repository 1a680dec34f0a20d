-- The pricing rule of every distinct pricing key (customer, account, product, usage type,
-- usage date) of the assigned costs: the most specific matching rule in effect that day.
-- Specificity: usage_type (5) > service (4) > account (3) > customer (2) > global (1),
-- then the higher priority, then the smaller rule_id (deterministic).
-- A table, not a view: its data test and int_costs_priced would each compute it again. The non-equi match
-- (null = any, like patterns) runs on the distinct keys without their days; the days join it on equality.
{{ config(materialized='table') }}
with

costs as (

    select * from {{ ref('int_costs_assigned_to_customers') }}

),

pricing_rules as (

    select * from {{ ref('pricing_rules') }}

),

-- the rules matching each key on everything but the day: a non-equi join of the few distinct
-- (customer, account, product, usage type) keys, not of every day of them
undated_keys as (

    select distinct
        customer_id,
        usage_account_id,
        product_code,
        usage_type

    from costs

),

undated_matches as (

    select
        undated_keys.customer_id,
        undated_keys.usage_account_id,
        undated_keys.product_code,
        undated_keys.usage_type,
        pricing_rules.rule_id as pricing_rule_id,
        pricing_rules.scope as pricing_rule_scope,
        pricing_rules.adjustment_pct,
        pricing_rules.priority,
        pricing_rules.effective_from,
        pricing_rules.effective_to,
        case pricing_rules.scope
            when 'usage_type' then 5
            when 'service' then 4
            when 'account' then 3
            when 'customer' then 2
            else 1
        end as specificity

    from undated_keys
    inner join pricing_rules
        -- every match column the rule fills in must match; null = any
        on (pricing_rules.customer_id is null or pricing_rules.customer_id = undated_keys.customer_id)
        and (
            pricing_rules.usage_account_id is null
            or pricing_rules.usage_account_id = undated_keys.usage_account_id
        )
        and (pricing_rules.product_code is null or pricing_rules.product_code = undated_keys.product_code)
        and (
            pricing_rules.usage_type_pattern is null
            or undated_keys.usage_type like pricing_rules.usage_type_pattern
        )

),

pricing_keys as (

    select distinct
        customer_id,
        usage_account_id,
        product_code,
        usage_type,
        usage_date

    from costs

),

candidates as (

    select
        pricing_keys.customer_id,
        pricing_keys.usage_account_id,
        pricing_keys.product_code,
        pricing_keys.usage_type,
        pricing_keys.usage_date,
        undated_matches.pricing_rule_id,
        undated_matches.pricing_rule_scope,
        undated_matches.adjustment_pct,
        undated_matches.priority,
        undated_matches.specificity

    from pricing_keys
    -- the four key columns are never null (customer_id coalesced to 'unassigned'; the staged rows' tests)
    inner join undated_matches
        on pricing_keys.customer_id = undated_matches.customer_id
        and pricing_keys.usage_account_id = undated_matches.usage_account_id
        and pricing_keys.product_code = undated_matches.product_code
        and pricing_keys.usage_type = undated_matches.usage_type
        -- effective_from inclusive, effective_to exclusive (null = open-ended)
        and pricing_keys.usage_date >= undated_matches.effective_from
        and (undated_matches.effective_to is null or pricing_keys.usage_date < undated_matches.effective_to)

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by customer_id, usage_account_id, product_code, usage_type, usage_date
            order by specificity desc, priority desc, pricing_rule_id
        ) as rule_rank

    from candidates

),

winners as (

    select
        customer_id,
        usage_account_id,
        product_code,
        usage_type,
        usage_date,
        cast(pricing_rule_id as varchar(64)) as pricing_rule_id,
        cast(pricing_rule_scope as varchar(16)) as pricing_rule_scope,
        cast(adjustment_pct as decimal(9, 4)) as adjustment_pct

    from ranked
    where rule_rank = 1

)

select * from winners
