-- invoice_lines shows one adjustment_pct per line: all billed rows of a line must share it.
select
    customer_id,
    billing_period,
    product_code,
    charge_category,
    pricing_rule_id,
    count(distinct adjustment_pct) as adjustment_pct_count
from {{ ref('int_costs_priced') }}
where billing_treatment = 'billed'
group by customer_id, billing_period, product_code, charge_category, pricing_rule_id
having count(distinct adjustment_pct) > 1
