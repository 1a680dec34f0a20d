{#-
    part / whole as decimal(38,10), rounded half away from zero, for two decimal(38,10) amounts;
    null when whole is 0 (or null). A share, not money, but still never a float: DuckDB turns
    decimal / decimal into DOUBLE, so each engine divides exactly in its own way.

    * DuckDB: both amounts as integers of 1e-10 units (hugeint), integer division
      (2·|p|·1e10 + |w|) // (2·|w|) = round half away from zero of |p/w| in 1e-10 units.
      Amounts up to 1e17 (decimal(27,10)).
    * Postgres (default): the same with numeric and div(), exact at any size.
    * Redshift: no integer type wider than bigint, so a decimal division sized to stay within
      38 digits (part: decimal(18,10), |part| < 1e8; whole: decimal(19,10), |whole| < 1e9 - a
      larger amount fails with a numeric overflow, never silently), then round(…, 10).
-#}
{% macro ratio(part, whole) -%}
    {{ return(adapter.dispatch('ratio', 'billflow')(part, whole)) }}
{%- endmacro %}

{% macro default__ratio(part, whole) -%}
    {%- set p = 'cast(' ~ part ~ ' as numeric(38, 10))' -%}
    {%- set w = 'cast(' ~ whole ~ ' as numeric(38, 10))' -%}
    case
        when {{ w }} <> 0 then cast(
            (case when ({{ p }} < 0) = ({{ w }} < 0) then 1 else -1 end)
            * div(2 * abs({{ p }}) * 10000000000 + abs({{ w }}), 2 * abs({{ w }}))
            * cast(0.0000000001 as numeric(11, 10))
            as decimal(38, 10)
        )
    end
{%- endmacro %}

{% macro duckdb__ratio(part, whole) -%}
    {%- set p = 'cast(cast(cast(' ~ part ~ ' as decimal(27, 10)) * cast(10000000000 as decimal(11, 0)) as decimal(38, 10)) as hugeint)' -%}
    {%- set w = 'cast(cast(cast(' ~ whole ~ ' as decimal(27, 10)) * cast(10000000000 as decimal(11, 0)) as decimal(38, 10)) as hugeint)' -%}
    case
        when {{ w }} <> 0 then cast(
            cast(
                (case when ({{ p }} < 0) = ({{ w }} < 0) then 1 else -1 end)
                * ((2 * abs({{ p }}) * cast(10000000000 as hugeint) + abs({{ w }})) // (2 * abs({{ w }})))
                as decimal(28, 0)
            )
            * cast(0.0000000001 as decimal(10, 10))
            as decimal(38, 10)
        )
    end
{%- endmacro %}

{% macro redshift__ratio(part, whole) -%}
    {%- set w = 'cast(' ~ whole ~ ' as decimal(19, 10))' -%}
    case
        when {{ w }} <> 0 then cast(
            round(cast({{ part }} as decimal(18, 10)) / {{ w }}, 10)
            as decimal(38, 10)
        )
    end
{%- endmacro %}
