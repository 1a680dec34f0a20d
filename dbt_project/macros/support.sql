{#- true when a product code is an AWS support plan (var support_product_code_patterns, SQL LIKE). -#}
{% macro is_support_product(product_code) -%}
    {%- set patterns = var('support_product_code_patterns', ['AWSSupport%', 'AWSDeveloperSupport%']) -%}
    ({% for pattern in patterns %}{{ product_code }} like '{{ pattern }}'{% if not loop.last %} or {% endif %}{% endfor %})
{%- endmacro %}
