{#-
    Money arithmetic that gives the same digits on DuckDB, Postgres and Redshift.

    * Never divide decimals (DuckDB turns decimal / decimal into DOUBLE; Postgres and
      Redshift truncate integer division): scale by multiplying with a decimal literal.
    * Always cast with explicit precision and scale (decimal without them is (18,3) in
      DuckDB and (18,0) in Redshift).
    * Keep intermediate precision <= 38 on every engine (Redshift adds one digit of
      precision to a product: p1 + p2 + 1).
-#}

{#- Apply a percentage adjustment (+ markup, - discount) to a decimal(38,10) cost. -#}
{% macro apply_adjustment_pct(cost, adjustment_pct) -%}
    {{ return(adapter.dispatch('apply_adjustment_pct', 'billflow')(cost, adjustment_pct)) }}
{%- endmacro %}

{% macro default__apply_adjustment_pct(cost, adjustment_pct) -%}
    cast(
        cast({{ cost }} as decimal(27, 10))
        * cast(1 + cast({{ adjustment_pct }} as decimal(9, 4)) * cast(0.01 as decimal(3, 2)) as decimal(10, 6))
        as decimal(38, 10)
    )
{%- endmacro %}


{#-
    Round half away from zero to `scale` decimals and return decimal(18, scale).
    Written with floor() so it does not depend on each engine's round()/cast rounding
    mode (half-even vs half-up): 0.125 -> 0.13, -0.125 -> -0.13.
-#}
{% macro round_half_away_from_zero(expression, scale=2) -%}
    {{ return(adapter.dispatch('round_half_away_from_zero', 'billflow')(expression, scale)) }}
{%- endmacro %}

{% macro default__round_half_away_from_zero(expression, scale=2) -%}
    {%- set factor = 'cast(1' ~ ('0' * scale) ~ ' as decimal(' ~ (scale + 1) ~ ', 0))' -%}
    {%- set unit = 'cast(' ~ ('1' if scale == 0 else '0.' ~ ('0' * (scale - 1)) ~ '1')
        ~ ' as decimal(' ~ (scale + 1) ~ ', ' ~ scale ~ '))' -%}
    {%- set value = 'cast(' ~ expression ~ ' as decimal(30, 10))' -%}
    {%- set half = 'cast(0.5 as decimal(2, 1))' -%}
    cast(
        case
            when {{ value }} < 0
                then -cast(floor(-{{ value }} * {{ factor }} + {{ half }}) as decimal(30, 0))
            else cast(floor({{ value }} * {{ factor }} + {{ half }}) as decimal(30, 0))
        end
        * {{ unit }}
        as decimal(18, {{ scale }})
    )
{%- endmacro %}


{#- pct % of a decimal amount as decimal(38,10) (e.g. a percentage fee or a tax rate), without decimal division. -#}
{% macro percent_of(amount, pct) -%}
    {{ return(adapter.dispatch('percent_of', 'billflow')(amount, pct)) }}
{%- endmacro %}

{% macro default__percent_of(amount, pct) -%}
    cast(
        cast({{ amount }} as decimal(27, 10))
        * cast(cast({{ pct }} as decimal(9, 4)) * cast(0.01 as decimal(3, 2)) as decimal(10, 6))
        as decimal(38, 10)
    )
{%- endmacro %}


{#-
    Round to a currency's minor unit (a column: 0 for KRW and JPY, 2 for USD), half away from
    zero, as decimal(18, 2) so that lines of every currency share one column type.
-#}
{% macro round_to_minor_unit(expression, minor_unit) -%}
    cast(
        case
            when {{ minor_unit }} = 0 then {{ billflow.round_half_away_from_zero(expression, 0) }}
            else {{ billflow.round_half_away_from_zero(expression, 2) }}
        end
        as decimal(18, 2)
    )
{%- endmacro %}


{#- A decimal(38,10) amount converted at an fx rate (decimal(13,8): up to 99999.99999999 per unit). -#}
{% macro convert_at_rate(amount, rate) -%}
    cast(
        cast({{ amount }} as decimal(24, 10)) * cast({{ rate }} as decimal(13, 8))
        as decimal(38, 10)
    )
{%- endmacro %}


{#-
    amount x part / whole as decimal(38,10), truncated toward zero at the 10th decimal, for
    pro-rata shares. Postgres and Redshift divide numerics and trunc(); DuckDB would divide
    decimals as DOUBLE, so there the division is done on integers of 1e-10 units. Every engine
    gives the same digits. Callers give the remainder to one share so that the shares add up to
    the amount exactly.
-#}
{% macro share_of(amount, part, whole) -%}
    {{ return(adapter.dispatch('share_of', 'billflow')(amount, part, whole)) }}
{%- endmacro %}

{% macro default__share_of(amount, part, whole) -%}
    cast(
        trunc(
            cast({{ amount }} as decimal(38, 10)) * cast({{ part }} as decimal(38, 10))
            / cast({{ whole }} as decimal(38, 10)),
            10
        )
        as decimal(38, 10)
    )
{%- endmacro %}

{% macro duckdb__share_of(amount, part, whole) -%}
    cast(
        cast(
            (
                cast(cast({{ amount }} as decimal(38, 10)) * 10000000000 as hugeint)
                * cast(cast({{ part }} as decimal(38, 10)) * 10000000000 as hugeint)
            )
            // cast(cast({{ whole }} as decimal(38, 10)) * 10000000000 as hugeint)
            as decimal(27, 0)
        )
        * cast(0.0000000001 as decimal(11, 10))
        as decimal(38, 10)
    )
{%- endmacro %}
