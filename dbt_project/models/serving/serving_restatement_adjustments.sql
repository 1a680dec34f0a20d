{{ config(alias='restatement_adjustments') }}

-- Restatement after lock (rule 11). Per locked invoice (customer, period P) of a period that is
-- still published, and per line key (product_code, charge_category, pricing_rule_id,
-- currency_code): amount = current published amount - locked amount - adjustments of P already
-- frozen on later locked invoices (a line missing on one side counts 0). A non-zero amount goes to
-- the customer's next open invoice: the earliest billing period after P with a published invoice
-- of the customer that is not locked; billing_period is null (pending) while there is none.
-- This model is the only place of the rule: the monthly close (billflow.billing.close) locks an
-- open invoice with the adjustment lines the tested serving_invoice_lines shows from it.
with

published_invoices as (

    select * from {{ source('published', 'invoices') }}

),

published_invoice_lines as (

    select * from {{ source('published', 'invoice_lines') }}

),

invoice_locks as (

    select * from {{ source('billing_control', 'invoice_locks') }}

),

locked_invoice_lines as (

    select * from {{ source('billing_control', 'locked_invoice_lines') }}

),

published_periods as (

    select distinct billing_period from published_invoices

),

-- a locked period no longer published (its data removed) is not compared: nothing is restated
restatable_locks as (

    select
        invoice_locks.customer_id,
        invoice_locks.billing_period
    from invoice_locks
    inner join published_periods
        on invoice_locks.billing_period = published_periods.billing_period

),

open_invoices as (

    select
        published_invoices.customer_id,
        published_invoices.billing_period,
        published_invoices.currency_code
    from published_invoices
    left join invoice_locks
        on published_invoices.customer_id = invoice_locks.customer_id
        and published_invoices.billing_period = invoice_locks.billing_period
    where invoice_locks.customer_id is null

),

line_amounts as (

    -- the current published lines of the locked period
    select
        published_invoice_lines.customer_id,
        published_invoice_lines.billing_period as adjusts_billing_period,
        published_invoice_lines.product_code,
        published_invoice_lines.charge_category,
        published_invoice_lines.pricing_rule_id,
        published_invoice_lines.currency_code,
        cast(published_invoice_lines.amount as decimal(18, 2)) as published_amount,
        cast(0 as decimal(18, 2)) as locked_amount,
        cast(0 as decimal(18, 2)) as adjusted_amount
    from published_invoice_lines
    inner join restatable_locks
        on published_invoice_lines.customer_id = restatable_locks.customer_id
        and published_invoice_lines.billing_period = restatable_locks.billing_period

    union all

    -- the lines frozen with the locked invoice (its own lines, not the adjustments it carries)
    select
        locked_invoice_lines.customer_id,
        locked_invoice_lines.billing_period as adjusts_billing_period,
        locked_invoice_lines.product_code,
        locked_invoice_lines.charge_category,
        locked_invoice_lines.pricing_rule_id,
        locked_invoice_lines.currency_code,
        cast(0 as decimal(18, 2)) as published_amount,
        cast(locked_invoice_lines.amount as decimal(18, 2)) as locked_amount,
        cast(0 as decimal(18, 2)) as adjusted_amount
    from locked_invoice_lines
    inner join restatable_locks
        on locked_invoice_lines.customer_id = restatable_locks.customer_id
        and locked_invoice_lines.billing_period = restatable_locks.billing_period
    where locked_invoice_lines.adjusts_billing_period is null

    union all

    -- adjustments of the locked period already frozen on later locked invoices
    select
        locked_invoice_lines.customer_id,
        locked_invoice_lines.adjusts_billing_period,
        locked_invoice_lines.product_code,
        locked_invoice_lines.charge_category,
        locked_invoice_lines.pricing_rule_id,
        locked_invoice_lines.currency_code,
        cast(0 as decimal(18, 2)) as published_amount,
        cast(0 as decimal(18, 2)) as locked_amount,
        cast(locked_invoice_lines.amount as decimal(18, 2)) as adjusted_amount
    from locked_invoice_lines
    inner join restatable_locks
        on locked_invoice_lines.customer_id = restatable_locks.customer_id
        and locked_invoice_lines.adjusts_billing_period = restatable_locks.billing_period

),

differences as (

    select
        customer_id,
        adjusts_billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        currency_code,
        cast(sum(published_amount) as decimal(18, 2)) as published_amount,
        cast(sum(locked_amount) as decimal(18, 2)) as locked_amount,
        cast(sum(adjusted_amount) as decimal(18, 2)) as adjusted_amount,
        cast(sum(published_amount) - sum(locked_amount) - sum(adjusted_amount) as decimal(18, 2)) as amount
    from line_amounts
    group by
        customer_id,
        adjusts_billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        currency_code

),

-- an adjustment only lands on an invoice in its own currency: a difference in a currency the
-- customer is no longer invoiced in stays pending (never converted, never mixed into a total)
next_open_invoices as (

    select
        restated.customer_id,
        restated.adjusts_billing_period,
        restated.currency_code,
        min(open_invoices.billing_period) as billing_period
    from (
        select distinct customer_id, adjusts_billing_period, currency_code
        from differences
    ) as restated
    inner join open_invoices
        on restated.customer_id = open_invoices.customer_id
        and open_invoices.billing_period > restated.adjusts_billing_period
        and open_invoices.currency_code = restated.currency_code
    group by
        restated.customer_id,
        restated.adjusts_billing_period,
        restated.currency_code

),

final as (

    select
        cast(differences.customer_id as varchar(64)) as customer_id,
        cast(next_open_invoices.billing_period as date) as billing_period,
        cast(differences.adjusts_billing_period as date) as adjusts_billing_period,
        cast(next_open_invoices.billing_period is null as boolean) as is_pending,
        cast(differences.product_code as varchar(256)) as product_code,
        cast(differences.charge_category as varchar(32)) as charge_category,
        cast(differences.pricing_rule_id as varchar(64)) as pricing_rule_id,
        cast('adjustment' as varchar(16)) as line_source,
        cast(differences.currency_code as varchar(3)) as currency_code,
        differences.published_amount,
        differences.locked_amount,
        differences.adjusted_amount,
        differences.amount

    from differences
    left join next_open_invoices
        on differences.customer_id = next_open_invoices.customer_id
        and differences.adjusts_billing_period = next_open_invoices.adjusts_billing_period
        and differences.currency_code = next_open_invoices.currency_code
    where differences.amount <> 0

)

select * from final
