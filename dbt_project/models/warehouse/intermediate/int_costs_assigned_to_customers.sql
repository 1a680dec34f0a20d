-- Cost rows with the customer of their usage account on the usage date and, for rows covered by a
-- Savings Plan or reservation, the customer of the account that bought the commitment (the owner
-- account is the fifth field of the ARN: arn:aws:savingsplans::<account>:savingsplan/...).
with

costs as (

    select * from {{ ref('int_costs_categorized') }}

),

account_assignments as (

    select * from {{ ref('account_assignments') }}

),

with_owner as (

    select
        costs.*,
        cast(
            case
                when costs.commitment_arn is null or costs.commitment_arn = '' then null
                else split_part(costs.commitment_arn, ':', 5)
            end
            as varchar(64)
        ) as commitment_owner_account_id

    from costs

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
        costs.commitment_arn,
        costs.commitment_owner_account_id,
        cast(
            case
                when costs.commitment_owner_account_id is null then null
                else coalesce(buyers.customer_id, 'unassigned')
            end
            as varchar(64)
        ) as commitment_buyer_customer_id,
        costs.unblended_cost,
        costs.amortized_cost,
        costs.public_on_demand_cost,
        costs.line_item_count

    from with_owner as costs
    left join account_assignments
        on costs.usage_account_id = account_assignments.usage_account_id
        -- effective_from inclusive, effective_to exclusive (null = open-ended)
        and costs.usage_date >= account_assignments.effective_from
        and (
            account_assignments.effective_to is null
            or costs.usage_date < account_assignments.effective_to
        )
    -- the buyer: the commitment owner's customer on the same usage date
    left join account_assignments as buyers
        on costs.commitment_owner_account_id = buyers.usage_account_id
        and costs.usage_date >= buyers.effective_from
        and (buyers.effective_to is null or costs.usage_date < buyers.effective_to)

)

select * from assigned
