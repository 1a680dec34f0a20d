-- invoice_lines shows one adjustment_pct per line: all priced rows of a line must share it.
select
    customer_id,
    billing_period,
    product_code,
    charge_category,
    count(distinct adjustment_pct) as adjustment_pct_count
from {{ ref('int_costs_priced') }}
group by customer_id, billing_period, product_code, charge_category
having count(distinct adjustment_pct) > 1
