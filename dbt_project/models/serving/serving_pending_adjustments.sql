{{ config(alias='pending_adjustments') }}

-- Restatement differences of locked invoices that wait for the customer's next open invoice
-- (no later published invoice of the customer is open yet); they move onto it once it exists.
with

restatement_adjustments as (

    select * from {{ ref('serving_restatement_adjustments') }}

),

final as (

    select
        customer_id,
        adjusts_billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        line_source,
        currency_code,
        published_amount,
        locked_amount,
        adjusted_amount,
        amount

    from restatement_adjustments
    where is_pending

)

select * from final
