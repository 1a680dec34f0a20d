-- The partner's own support plan, for customers with support_mode `partner_plan`: every billing
-- period of the staged CUR, support_pct % of the customer's spend in the invoice currency, at least
-- support_minimum (also when the customer has no usage that month).
with

customers as (

    select * from {{ ref('int_customer_terms') }}

),

spend as (

    select * from {{ ref('int_customer_spend') }}

),

plans as (

    select
        customers.customer_id,
        customers.billing_period,
        cast(customers.currency_code as varchar(3)) as currency_code,
        cast(coalesce(spend.spend, 0) as decimal(38, 10)) as spend,
        cast(customers.support_pct as decimal(9, 4)) as support_pct,
        cast(customers.support_minimum as decimal(18, 2)) as support_minimum,
        {{ percent_of('coalesce(spend.spend, 0)', 'customers.support_pct') }} as pct_fee

    from customers
    left join spend
        on customers.customer_id = spend.customer_id
        and customers.billing_period = spend.billing_period
    where customers.support_mode = 'partner_plan'

),

final as (

    select
        customer_id,
        billing_period,
        currency_code,
        spend,
        support_pct,
        support_minimum,
        cast(case when pct_fee >= support_minimum then pct_fee else support_minimum end as decimal(38, 10))
            as billed_cost,
        case when pct_fee >= support_minimum then false else true end as is_minimum_applied

    from plans

)

select * from final
