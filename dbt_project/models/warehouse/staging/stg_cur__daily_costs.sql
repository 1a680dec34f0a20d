with

source as (

    select * from {{ source('staged', 'cur_daily') }}

),

renamed as (

    select
        -- grain
        cast(billing_period as date) as billing_period,
        cast(payer_account_id as varchar(64)) as payer_account_id,
        cast(usage_account_id as varchar(64)) as usage_account_id,
        cast(usage_date as date) as usage_date,
        cast(line_item_type as varchar(64)) as line_item_type,
        cast(coalesce(product_code, '') as varchar(256)) as product_code,
        cast(usage_type as varchar(256)) as usage_type,
        cast(operation as varchar(256)) as operation,
        cast(region as varchar(64)) as region,
        cast(product_name as varchar(256)) as product_name,
        cast(pricing_unit as varchar(64)) as pricing_unit,
        cast(currency_code as varchar(3)) as currency_code,
        cast(bill_type as varchar(32)) as bill_type,
        cast(invoice_id as varchar(64)) as aws_invoice_id,
        cast(commitment_arn as varchar(512)) as commitment_arn,

        -- measures
        cast(usage_amount as decimal(38, 10)) as usage_amount,
        cast(unblended_cost as decimal(38, 10)) as unblended_cost,
        cast(amortized_cost as decimal(38, 10)) as amortized_cost,
        cast(public_on_demand_cost as decimal(38, 10)) as public_on_demand_cost,
        cast(line_item_count as bigint) as line_item_count,

        -- lineage
        cast(manifest_id as varchar(256)) as manifest_id,
        cast(source_format as varchar(16)) as source_format

    from source

)

select * from renamed
