{#-
    The staged CUR's totals per payer and billing period (decimal sums), the figure every
    reconciliation test starts from: select it in a CTE and compare a mart's sums to it.
-#}
{% macro staged_totals() -%}
    select
        payer_account_id,
        billing_period,
        cast(sum(unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(amortized_cost) as decimal(38, 10)) as amortized_cost,
        sum(line_item_count) as line_item_count
    from {{ ref('stg_cur__daily_costs') }}
    group by payer_account_id, billing_period
{%- endmacro %}
