{{ config(alias='invoice_lines') }}

with

published_invoice_lines as (

    select * from {{ source('published', 'invoice_lines') }}

),

invoice_locks as (

    select * from {{ source('billing_control', 'invoice_locks') }}

),

locked_invoice_lines as (

    select * from {{ source('billing_control', 'locked_invoice_lines') }}

),

restatement_adjustments as (

    select * from {{ ref('serving_restatement_adjustments') }}

),

-- final invoices: the lines frozen at lock time (with the adjustment lines they carried)
final_lines as (

    select
        locked_invoice_lines.customer_id,
        locked_invoice_lines.billing_period,
        'final' as status,
        invoice_locks.invoice_number,
        locked_invoice_lines.product_code,
        locked_invoice_lines.charge_category,
        locked_invoice_lines.pricing_rule_id,
        locked_invoice_lines.line_source,
        locked_invoice_lines.adjusts_billing_period,
        locked_invoice_lines.currency_code,
        locked_invoice_lines.amount

    from locked_invoice_lines
    inner join invoice_locks
        on locked_invoice_lines.customer_id = invoice_locks.customer_id
        and locked_invoice_lines.billing_period = invoice_locks.billing_period

),

-- provisional invoices: the current published lines
provisional_lines as (

    select
        published_invoice_lines.customer_id,
        published_invoice_lines.billing_period,
        'provisional' as status,
        cast(null as varchar(64)) as invoice_number,
        published_invoice_lines.product_code,
        published_invoice_lines.charge_category,
        published_invoice_lines.pricing_rule_id,
        published_invoice_lines.line_source,
        cast(null as date) as adjusts_billing_period,
        published_invoice_lines.currency_code,
        published_invoice_lines.amount

    from published_invoice_lines
    left join invoice_locks
        on published_invoice_lines.customer_id = invoice_locks.customer_id
        and published_invoice_lines.billing_period = invoice_locks.billing_period
    where invoice_locks.customer_id is null

),

-- provisional invoices: the restatement adjustments they carry (pending ones have no invoice yet)
adjustment_lines as (

    select
        customer_id,
        billing_period,
        'provisional' as status,
        cast(null as varchar(64)) as invoice_number,
        product_code,
        charge_category,
        pricing_rule_id,
        line_source,
        adjusts_billing_period,
        currency_code,
        amount

    from restatement_adjustments
    where not is_pending

),

unioned as (

    select * from final_lines
    union all
    select * from provisional_lines
    union all
    select * from adjustment_lines

),

final as (

    select
        cast(unioned.customer_id as varchar(64)) as customer_id,
        cast(unioned.billing_period as date) as billing_period,
        cast(unioned.status as varchar(16)) as status,
        cast(unioned.invoice_number as varchar(64)) as invoice_number,
        cast(unioned.product_code as varchar(256)) as product_code,
        cast(unioned.charge_category as varchar(32)) as charge_category,
        cast(unioned.pricing_rule_id as varchar(64)) as pricing_rule_id,
        cast(unioned.line_source as varchar(16)) as line_source,
        cast(unioned.adjusts_billing_period as date) as adjusts_billing_period,
        cast(unioned.currency_code as varchar(3)) as currency_code,
        cast(unioned.amount as decimal(18, 2)) as amount,
        -- current published figures behind the line (null if no longer published, and for adjustments)
        cast(published_invoice_lines.amortized_cost as decimal(38, 10)) as amortized_cost,
        cast(published_invoice_lines.adjustment_pct as decimal(9, 4)) as adjustment_pct,
        cast(published_invoice_lines.billed_cost as decimal(38, 10)) as billed_cost

    from unioned
    left join published_invoice_lines
        on unioned.adjusts_billing_period is null
        and unioned.customer_id = published_invoice_lines.customer_id
        and unioned.billing_period = published_invoice_lines.billing_period
        and unioned.product_code = published_invoice_lines.product_code
        and unioned.charge_category = published_invoice_lines.charge_category
        and unioned.pricing_rule_id = published_invoice_lines.pricing_rule_id

)

select * from final
