{#-
    Use a custom schema name as-is (staging, intermediate, marts, reference, billing)
    instead of dbt's default <target_schema>_<custom_schema>. Nodes without a custom
    schema land in the target's schema.

    On a warehouse server (Redshift), a load builds its candidate beside the live schemas:
    billflow sets BILLFLOW_WAREHOUSE_SCHEMA_SUFFIX (`__candidate`) for that build, and the
    release renames the candidate schemas over the live ones (billflow.warehouse.redshift).
    Serving builds into its shadow schema and never takes the suffix.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = env_var('BILLFLOW_WAREHOUSE_SCHEMA_SUFFIX', '') | trim if target.name == 'warehouse' else '' -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}{{ suffix }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- endif -%}
{%- endmacro %}
