-- Cost by allocation tag value, assigned to customers exactly like int_costs_assigned_to_customers
-- assigns the cost rows: the customer that owned the usage account on the usage date, else
-- `unassigned`. Every tag key carries the whole cost, so each key adds up to the customer's total.
with

tag_costs as (

    select * from {{ ref('stg_cur__daily_tag_costs') }}

),

account_assignments as (

    select * from {{ ref('account_assignments') }}

),

assigned as (

    select
        tag_costs.billing_period,
        tag_costs.payer_account_id,
        tag_costs.usage_account_id,
        tag_costs.usage_date,
        -- accounts without an assignment on the usage date go to the catch-all customer:
        -- never dropped
        cast(coalesce(account_assignments.customer_id, 'unassigned') as varchar(64)) as customer_id,
        tag_costs.line_item_type,
        tag_costs.product_code,
        tag_costs.usage_type,
        tag_costs.tag_key,
        tag_costs.tag_value,
        tag_costs.unblended_cost,
        tag_costs.amortized_cost,
        tag_costs.line_item_count

    from tag_costs
    left join account_assignments
        on tag_costs.usage_account_id = account_assignments.usage_account_id
        -- effective_from inclusive, effective_to exclusive (null = open-ended)
        and tag_costs.usage_date >= account_assignments.effective_from
        and (
            account_assignments.effective_to is null
            or tag_costs.usage_date < account_assignments.effective_to
        )

)

select * from assigned
