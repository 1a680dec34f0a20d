{#- A value of accepted_values as a SQL literal: strings quoted, numbers and booleans as they are. -#}
{% macro row_checks_literal(value) -%}
    {%- if value is string -%}
        '{{ value | replace("'", "''") }}'
    {%- elif value is sameas true or value is sameas false -%}
        {{ "true" if value else "false" }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("row_checks: accepted value " ~ value ~ " is not a string, number or boolean") }}
    {%- endif -%}
{%- endmacro %}
