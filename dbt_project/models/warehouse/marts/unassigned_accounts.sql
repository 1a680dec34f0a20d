-- Accounts whose usage landed on the default customer `unassigned` (no account assignment on
-- the usage date): fix account_assignments so that they are billed to their customer.
with

assigned as (

    select * from {{ ref('int_costs_assigned_to_customers') }}

),

unassigned as (

    select
        billing_period,
        payer_account_id,
        usage_account_id,
        min(usage_date) as first_usage_date,
        max(usage_date) as last_usage_date,
        cast(count(distinct usage_date) as integer) as usage_days,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(line_item_count) as bigint) as line_item_count

    from assigned
    where customer_id = 'unassigned'
    group by billing_period, payer_account_id, usage_account_id

)

select * from unassigned
