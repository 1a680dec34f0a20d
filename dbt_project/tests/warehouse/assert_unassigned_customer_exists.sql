-- The catch-all customer must have terms in every billing period: unmapped accounts are billed to it.
with

billing_periods as (

    select distinct billing_period from {{ ref('stg_cur__daily_costs') }}

),

unassigned_terms as (

    select billing_period
    from {{ ref('int_customer_terms') }}
    where customer_id = 'unassigned'

)

select billing_periods.billing_period
from billing_periods
left join unassigned_terms
    on billing_periods.billing_period = unassigned_terms.billing_period
where unassigned_terms.billing_period is null
