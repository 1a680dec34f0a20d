-- Invoices whose lines were converted with an earlier month's rate (fx_rates lacks their month).
select
    customer_id,
    billing_period,
    currency_code,
    fx_rate_period
from {{ ref('invoices') }}
where fx_rate_period < billing_period
