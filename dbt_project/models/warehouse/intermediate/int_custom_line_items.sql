-- Custom fees and credits due per customer and billing period (custom_line_items seed), in the
-- invoice currency. monthly: every billing period in [effective_from, effective_to); one_off: the
-- period that starts on effective_from. A flat item's amount is in the invoice currency; a percent
-- item is pct % of the customer's spend (int_customer_spend). Billing periods are those of the
-- staged CUR.
with

items as (

    select * from {{ ref('custom_line_items') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

priced as (

    select * from {{ ref('int_costs_priced') }}

),

billing_periods as (

    select distinct billing_period from priced

),

spend as (

    select * from {{ ref('int_customer_spend') }}

),

due as (

    select
        items.*,
        billing_periods.billing_period

    from items
    inner join billing_periods
        on (
            items.recurrence = 'monthly'
            and billing_periods.billing_period >= items.effective_from
            and (items.effective_to is null or billing_periods.billing_period < items.effective_to)
        )
        or (items.recurrence = 'one_off' and billing_periods.billing_period = items.effective_from)

),

valued as (

    select
        due.customer_id,
        due.billing_period,
        cast(due.item_id as varchar(64)) as item_id,
        cast(due.description as varchar(256)) as description,
        cast(due.kind as varchar(16)) as kind,
        cast(due.amount_type as varchar(16)) as amount_type,
        cast(customers.currency_code as varchar(3)) as currency_code,
        cast(coalesce(spend.spend, 0) as decimal(38, 10)) as spend,
        case
            when due.amount_type = 'flat' then cast(due.amount as decimal(38, 10))
            else {{ percent_of('coalesce(spend.spend, 0)', 'due.pct') }}
        end as unsigned_amount

    from due
    inner join customers
        on due.customer_id = customers.customer_id
        and due.billing_period = customers.billing_period
    left join spend
        on due.customer_id = spend.customer_id
        and due.billing_period = spend.billing_period

),

signed as (

    select
        customer_id,
        billing_period,
        item_id,
        description,
        kind,
        amount_type,
        currency_code,
        spend,
        -- fees are charged, credits deducted
        cast(case when kind = 'credit' then -unsigned_amount else unsigned_amount end as decimal(38, 10))
            as billed_cost

    from valued

)

select * from signed
