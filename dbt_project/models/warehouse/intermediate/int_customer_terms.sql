-- The terms in force for every customer in every billing period of the staged CUR: the customers
-- row whose [effective_from, effective_to) holds the first day of the period. Every model that
-- needs a customer's basis, currency, support, pass-through or tax terms reads them here, by
-- customer and billing period, so a change of terms applies from a whole invoice month on.
with

customers as (

    select * from {{ ref('customers') }}

),

costs as (

    select * from {{ ref('stg_cur__daily_costs') }}

),

billing_periods as (

    select distinct billing_period from costs

),

in_force as (

    select
        billing_periods.billing_period,
        cast(customers.customer_id as varchar(64)) as customer_id,
        cast(customers.customer_name as varchar(256)) as customer_name,
        cast(customers.currency_code as varchar(3)) as currency_code,
        cast(customers.basis as varchar(16)) as basis,
        customers.pass_through_discounts,
        customers.pass_through_credits,
        -- an empty cell is the default: the SPP discount is the partner's margin, not passed through
        coalesce(customers.pass_through_spp_discount, false) as pass_through_spp_discount,
        cast(customers.rerate_covered_usage as varchar(16)) as rerate_covered_usage,
        cast(customers.support_mode as varchar(16)) as support_mode,
        cast(customers.support_pct as decimal(9, 4)) as support_pct,
        cast(customers.support_minimum as decimal(18, 2)) as support_minimum,
        cast(customers.tax_mode as varchar(16)) as tax_mode,
        cast(customers.tax_rate_pct as decimal(9, 4)) as tax_rate_pct,
        customers.effective_from as terms_effective_from

    from customers
    inner join billing_periods
        on customers.effective_from <= billing_periods.billing_period
        and (customers.effective_to is null or billing_periods.billing_period < customers.effective_to)

)

select * from in_force
