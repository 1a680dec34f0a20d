{#-
    Fails for every combination of `combination_of_columns` that occurs more than once
    (a composite primary key). Written here because dbt packages (dbt_utils) cannot be
    installed: `dbt deps` has no access to the package hub.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with duplicated_keys as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as row_count
    from {{ model }}
    group by
        {{ combination_of_columns | join(',\n        ') }}
    having count(*) > 1

)

select * from duplicated_keys

{% endtest %}
