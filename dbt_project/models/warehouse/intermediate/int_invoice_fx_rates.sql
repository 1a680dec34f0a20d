-- The exchange rate of every customer's invoice per billing period and CUR currency: 1 when the
-- customer is invoiced in the CUR currency, else the fx_rates row of the billing period or, failing
-- that, of the latest earlier month (fx_rate_period says which). No row at all: fx_rate is null,
-- which fails the not_null test before any invoice is built.
with

priced as (

    select * from {{ ref('int_costs_priced') }}

),

customers as (

    select * from {{ ref('int_customer_terms') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

period_currencies as (

    select distinct
        billing_period,
        currency_code as source_currency_code

    from priced

),

invoice_currencies as (

    select
        customers.customer_id,
        period_currencies.billing_period,
        period_currencies.source_currency_code,
        customers.currency_code

    from customers
    inner join period_currencies
        on customers.billing_period = period_currencies.billing_period

),

candidate_rates as (

    select
        invoice_currencies.customer_id,
        invoice_currencies.billing_period,
        invoice_currencies.source_currency_code,
        fx_rates.billing_period as fx_rate_period,
        fx_rates.rate,
        row_number() over (
            partition by
                invoice_currencies.customer_id,
                invoice_currencies.billing_period,
                invoice_currencies.source_currency_code
            order by fx_rates.billing_period desc
        ) as recency

    from invoice_currencies
    inner join fx_rates
        on invoice_currencies.source_currency_code = fx_rates.from_currency
        and invoice_currencies.currency_code = fx_rates.to_currency
        and fx_rates.billing_period <= invoice_currencies.billing_period

),

rated as (

    select
        invoice_currencies.customer_id,
        invoice_currencies.billing_period,
        cast(invoice_currencies.source_currency_code as varchar(3)) as source_currency_code,
        cast(invoice_currencies.currency_code as varchar(3)) as currency_code,
        cast(
            case
                when invoice_currencies.source_currency_code = invoice_currencies.currency_code then 1
                else candidate_rates.rate
            end
            as decimal(18, 8)
        ) as fx_rate,
        case
            when invoice_currencies.source_currency_code = invoice_currencies.currency_code
                then invoice_currencies.billing_period
            else candidate_rates.fx_rate_period
        end as fx_rate_period,
        cast(currencies.minor_unit as integer) as minor_unit

    from invoice_currencies
    left join candidate_rates
        on invoice_currencies.customer_id = candidate_rates.customer_id
        and invoice_currencies.billing_period = candidate_rates.billing_period
        and invoice_currencies.source_currency_code = candidate_rates.source_currency_code
        and candidate_rates.recency = 1
    left join currencies
        on invoice_currencies.currency_code = currencies.currency_code

)

select * from rated
