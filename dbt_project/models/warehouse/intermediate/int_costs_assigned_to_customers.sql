with

costs as (

    select * from {{ ref('int_costs_categorized') }}

),

account_assignments as (

    select * from {{ ref('account_assignments') }}

),

assigned as (

    select
        costs.billing_period,
        costs.payer_account_id,
        costs.usage_account_id,
        costs.usage_date,
        -- accounts without an assignment on the usage date are billed to the catch-all
        -- customer: never dropped
        cast(coalesce(account_assignments.customer_id, 'unassigned') as varchar(64)) as customer_id,
        costs.line_item_type,
        costs.charge_category,
        costs.pass_through_class,
        costs.product_code,
        costs.usage_type,
        costs.currency_code,
        costs.aws_invoice_id,
        costs.unblended_cost,
        costs.amortized_cost,
        costs.line_item_count

    from costs
    left join account_assignments
        on costs.usage_account_id = account_assignments.usage_account_id
        -- effective_from inclusive, effective_to exclusive (null = open-ended)
        and costs.usage_date >= account_assignments.effective_from
        and (
            account_assignments.effective_to is null
            or costs.usage_date < account_assignments.effective_to
        )

)

select * from assigned
