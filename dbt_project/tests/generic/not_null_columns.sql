{#-
    Fails with one row per column of `column_names` that holds a null: the column's name and how many
    rows are null. One scan of `model` checks every column, where a `not_null` test per column costs
    one query (and one dbt node) each.
-#}
{% test not_null_columns(model, column_names) %}

with null_counts as (

    select
        {%- for column in column_names %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in column_names -%}
select '{{ column }}' as column_name, {{ column }} as null_rows
from null_counts
where {{ column }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}

{% endtest %}
