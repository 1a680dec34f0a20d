with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

lines as (

    select
        customer_id,
        billing_period,
        product_code,
        charge_category,
        currency_code,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        -- one value per line: prices change on the first day of a month (seed test)
        cast(max(adjustment_pct) as decimal(9, 4)) as adjustment_pct,
        cast(sum(billed_cost) as decimal(38, 10)) as billed_cost

    from priced
    group by
        customer_id,
        billing_period,
        product_code,
        charge_category,
        currency_code

),

rounded as (

    select
        customer_id,
        billing_period,
        product_code,
        charge_category,
        currency_code,
        unblended_cost,
        amortized_cost,
        adjustment_pct,
        billed_cost,
        -- each line is rounded half away from zero to the cent
        {{ round_half_away_from_zero('billed_cost', 2) }} as amount

    from lines

)

select * from rounded
