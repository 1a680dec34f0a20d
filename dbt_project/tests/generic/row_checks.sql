{#-
    The checks of one model, seed or source in one dbt node. Fails with one row per check that some rows
    break: the check (`not_null(<column>)`, `accepted_values(<column>)`, `expression(<name>)`,
    `unique(<columns>)`, `relationship(<column> -> <parent>.<field>)`) and how many rows break it (for a
    unique key: how many keys occur more than once).

    The value checks share one scan of `model`: not_null as in dbt's not_null, accepted_values as in dbt's
    accepted_values (a null is not a value), an expression as in expression_is_true (a row fails when the
    expression is false; null does not fail). Each unique key is one grouped query over the rows whose key
    is not entirely null (as dbt's unique skips nulls), each relationship one anti-join (a null child value
    has no parent to find, as in dbt's relationships). One node instead of one per check: dbt's cost per
    node, not the queries, was most of a build's time.
-#}
{% test row_checks(model, not_null=[], accepted_values={}, expressions={}, unique=[], relationships=[]) %}

{%- set value_checks = [] -%}
{%- for column in not_null -%}
    {%- do value_checks.append(("not_null(" ~ column ~ ")", column ~ " is null")) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append(row_checks_literal(value)) -%}
    {%- endfor -%}
    {%- do value_checks.append(("accepted_values(" ~ column ~ ")", column ~ " not in (" ~ listed | join(", ") ~ ")")) -%}
{%- endfor -%}
{%- for name, expression in expressions.items() -%}
    {%- do value_checks.append(("expression(" ~ name ~ ")", "not (" ~ expression ~ ")")) -%}
{%- endfor -%}

with
{%- if value_checks %}
value_counts as (

    select
        {%- for check, failing in value_checks %}
        sum(case when {{ failing }} then 1 else 0 end) as check_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),
{%- endif %}

failures as (

    {%- for check, failing in value_checks %}
    select '{{ check | replace("'", "''") }}' as failed_check, check_{{ loop.index }} as failing_rows
    from value_counts
    where check_{{ loop.index }} > 0
    union all
    {%- endfor %}

    {%- for key in unique %}
    select '{{ "unique(" ~ key | join(", ") ~ ")" }}' as failed_check, count(*) as failing_rows
    from (
        select {{ key | join(", ") }}
        from {{ model }}
        where not ({{ key | join(" is null and ") }} is null)
        group by {{ key | join(", ") }}
        having count(*) > 1
    ) as duplicated_keys
    having count(*) > 0
    union all
    {%- endfor %}

    {%- for relationship in relationships %}
    {%- set parent = relationship.to if relationship.to is string else relationship.to.identifier %}
    select
        '{{ ("relationship(" ~ relationship.column ~ " -> " ~ parent ~ "." ~ relationship.field ~ ")") | replace("'", "''") }}'
            as failed_check,
        count(*) as failing_rows
    from (select {{ relationship.column }} as child_value from {{ model }}) as child
    left join (select {{ relationship.field }} as parent_value from {{ relationship.to }}) as parent
        on child.child_value = parent.parent_value
    where child.child_value is not null and parent.parent_value is null
    having count(*) > 0
    union all
    {%- endfor %}

    select cast(null as varchar(256)) as failed_check, cast(null as bigint) as failing_rows
    where 1 = 0

)

select * from failures

{% endtest %}

