with

source as (

    select * from {{ source('staged', 'cur_daily_tags') }}

),

renamed as (

    select
        cast(billing_period as date) as billing_period,
        cast(payer_account_id as varchar(64)) as payer_account_id,
        cast(usage_account_id as varchar(64)) as usage_account_id,
        cast(usage_date as date) as usage_date,
        cast(line_item_type as varchar(64)) as line_item_type,
        cast(coalesce(product_code, '') as varchar(256)) as product_code,
        cast(usage_type as varchar(256)) as usage_type,
        cast(tag_key as varchar(128)) as tag_key,
        cast(tag_value as varchar(256)) as tag_value,
        cast(unblended_cost as decimal(38, 10)) as unblended_cost,
        cast(amortized_cost as decimal(38, 10)) as amortized_cost,
        cast(line_item_count as bigint) as line_item_count,
        cast(manifest_id as varchar(128)) as manifest_id

    from source

)

select * from renamed
