-- FOCUS 1.2 cost and usage rows, one per staged row (same grain as stg_cur__daily_costs).
-- Columns are the FOCUS names in snake_case (billed_cost = BilledCost ...): unquoted lower-case
-- identifiers stay portable across DuckDB, Postgres and Redshift (which folds case). The export
-- (billflow.serving.focus_export) renames them to the FOCUS names and writes one Parquet file per
-- billing period. Money stays decimal(38,10); timestamps are UTC (days and months of the CUR).
with

staged as (

    select * from {{ ref('stg_cur__daily_costs') }}

),

service_categories as (

    select * from {{ ref('focus_service_categories') }}

),

line_item_types as (

    select * from {{ ref('line_item_types') }}

),

with_units as (

    select
        staged.*,
        -- from the charge category of the line item type (seed line_item_types): usage and every
        -- discount of it (SPP, RI volume and distributor discounts too) -> Usage, commitments and
        -- fees -> Purchase
        case
            when line_item_types.charge_category in ('usage', 'discount') then 'Usage'
            when line_item_types.charge_category in ('commitment', 'fee') then 'Purchase'
            when line_item_types.charge_category = 'tax' then 'Tax'
            when line_item_types.charge_category = 'credit' then 'Credit'
            -- Refund and any line item type the seed does not declare: a correction or other adjustment
            else 'Adjustment'
        end as charge_category,
        -- a Refund bill corrects charges AWS invoiced in an earlier billing period
        case when staged.bill_type = 'Refund' then 'Correction' end as charge_class,
        coalesce(service_categories.service_category, 'Other') as service_category,
        -- AWS pricing units in the FOCUS UnitFormat (Hrs -> Hours, GB-Mo -> GB-Months, ...)
        case
            when coalesce(staged.pricing_unit, '') = '' then null
            when staged.pricing_unit in ('Hrs', 'hours', 'Hour', 'hour', 'Hours') then 'Hours'
            when staged.pricing_unit = 'Lambda-GB-Second' then 'GB-Seconds'
            when staged.pricing_unit like '%-Hrs' then replace(staged.pricing_unit, '-Hrs', '-Hours')
            when staged.pricing_unit like '%-Mo' then replace(staged.pricing_unit, '-Mo', '-Months')
            when staged.pricing_unit like '%-Month' then replace(staged.pricing_unit, '-Month', '-Months')
            when staged.pricing_unit like '%-Second' then replace(staged.pricing_unit, '-Second', '-Seconds')
            else staged.pricing_unit
        end as focus_pricing_unit
    from staged
    left join service_categories
        on staged.product_code = service_categories.product_code
    left join line_item_types
        on staged.line_item_type = line_item_types.line_item_type

),

categorized as (

    select
        with_units.*,
        case
            when charge_category = 'Tax' then 0
            when charge_category in ('Usage', 'Purchase') then 1
            when focus_pricing_unit is not null and usage_amount is not null then 1
            else 0
        end as has_pricing
    from with_units

),

focus as (

    select
        -- accounts: the staged schema has no account names, the ids stand in for them
        cast(payer_account_id as varchar(64)) as billing_account_id,
        cast(payer_account_id as varchar(64)) as billing_account_name,
        cast(usage_account_id as varchar(64)) as sub_account_id,
        cast(usage_account_id as varchar(64)) as sub_account_name,

        -- periods: [start, end) in UTC; interval arithmetic is the same SQL in DuckDB, PostgreSQL and
        -- Redshift (dbt.dateadd renders Redshift's dateadd(), which PostgreSQL does not have)
        cast(billing_period as timestamp) as billing_period_start,
        cast(cast(billing_period as timestamp) + interval '1 month' as timestamp) as billing_period_end,
        cast(usage_date as timestamp) as charge_period_start,
        cast(cast(usage_date as timestamp) + interval '1 day' as timestamp) as charge_period_end,

        -- charge
        cast(charge_category as varchar(16)) as charge_category,
        cast(charge_class as varchar(16)) as charge_class,
        cast(
            case
                when charge_category = 'Usage' then 'Usage-Based'
                when line_item_type in ('RIFee', 'SavingsPlanRecurringFee') then 'Recurring'
                when charge_category = 'Purchase' and bill_type = 'Anniversary' then 'Recurring'
                else 'One-Time'
            end
            as varchar(16)
        ) as charge_frequency,
        cast(
            line_item_type
            || ': '
            || coalesce(nullif(product_name, ''), nullif(product_code, ''), 'AWS')
            || case when coalesce(usage_type, '') <> '' then ' ' || usage_type else '' end
            || case when coalesce(operation, '') <> '' then ' (' || operation || ')' else '' end
            as varchar(1024)
        ) as charge_description,

        -- money, in the billing currency
        cast(currency_code as varchar(3)) as billing_currency,
        cast(unblended_cost as decimal(38, 10)) as billed_cost,
        cast(amortized_cost as decimal(38, 10)) as effective_cost,
        -- no negotiated unit prices in the CUR: the unblended cost is the payer's contracted cost
        cast(unblended_cost as decimal(38, 10)) as contracted_cost,
        -- public on-demand cost for usage; charges not priced off a public list carry their billed cost
        cast(
            case
                when charge_category = 'Usage' and public_on_demand_cost is not null
                    then public_on_demand_cost
                else unblended_cost
            end
            as decimal(38, 10)
        ) as list_cost,

        -- pricing (FOCUS): never on tax, always on usage and purchases, else when AWS gives a unit and amount
        cast(case when has_pricing = 1 then coalesce(usage_amount, 0) end as decimal(38, 10)) as pricing_quantity,
        cast(case when has_pricing = 1 then coalesce(focus_pricing_unit, 'Units') end as varchar(64)) as pricing_unit,

        -- service and parties
        cast('Amazon Web Services' as varchar(64)) as provider_name,
        cast('Amazon Web Services' as varchar(64)) as publisher_name,
        cast('Amazon Web Services' as varchar(64)) as invoice_issuer_name,
        cast(coalesce(nullif(product_name, ''), nullif(product_code, ''), 'AWS') as varchar(256)) as service_name,
        cast(service_category as varchar(64)) as service_category,
        -- no finer mapping yet: the catch-all subcategory of the category, as FOCUS allows
        cast('Other (' || service_category || ')' as varchar(96)) as service_subcategory,
        cast(aws_invoice_id as varchar(64)) as invoice_id,

        -- provider columns (FOCUS x_ prefix in the export) and lineage
        cast(line_item_type as varchar(64)) as x_line_item_type,
        cast(product_code as varchar(256)) as x_product_code,
        cast(usage_type as varchar(256)) as x_usage_type,
        cast(operation as varchar(256)) as x_operation,
        cast(region as varchar(64)) as x_region,
        cast(bill_type as varchar(32)) as x_bill_type,
        cast(line_item_count as bigint) as x_line_item_count,
        cast(billing_period as date) as billing_period

    from categorized

)

select * from focus
