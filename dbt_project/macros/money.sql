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
    amount x part / whole as decimal(38,10), rounded half away from zero at the 10th decimal (the
    project's rounding everywhere), for pro-rata shares. Exact on every engine, never a float, and
    independent of how an engine rounds its own divisions:

    * DuckDB: the three values as integers of 1e-10 units (hugeint) A, P, W; the share in 1e-10
      units is (2·|A·P| + |W|) // (2·|W|) with the sign of A·P/W. |amount x part| < 8.5e17 (a larger
      product overflows hugeint: an error, never a wrong digit).
    * Postgres (default): the same with numeric and div(), exact for any decimal(38,10).
    * Redshift: no integer type wider than bigint and decimals of at most 38 digits, so a candidate
      |amount| x (|part| / |whole| to 19 decimals) rounded to 10 decimals (at most 1e-12 from the
      exact share, so at most one unit of 1e-10 from the rounded one) is corrected with exact
      products: S is the share when (S - 0.5e-10)·|whole| <= |amount·part| < (S + 0.5e-10)·|whole|.
      Every operand is sized so that each product stays within 38 digits: |amount| < 1e7,
      |part| <= |whole| < 1e8 (a larger value fails with a numeric overflow, never silently).

    Callers give the remainder to one share so that the shares add up to the amount exactly.
-#}
{% macro share_of(amount, part, whole) -%}
    {{ return(adapter.dispatch('share_of', 'billflow')(amount, part, whole)) }}
{%- endmacro %}

{#- -1 when an odd number of the three values is negative, else 1: the sign of a x p / w. -#}
{% macro _sign_of_share(amount, part, whole) -%}
    (case when {{ amount }} < 0 then -1 else 1 end)
    * (case when {{ part }} < 0 then -1 else 1 end)
    * (case when {{ whole }} < 0 then -1 else 1 end)
{%- endmacro %}

{% macro default__share_of(amount, part, whole) -%}
    {%- set a = 'cast(' ~ amount ~ ' as numeric(38, 10))' -%}
    {%- set p = 'cast(' ~ part ~ ' as numeric(38, 10))' -%}
    {%- set w = 'cast(' ~ whole ~ ' as numeric(38, 10))' -%}
    cast(
        {{ billflow._sign_of_share(a, p, w) }}
        * div(2 * abs({{ a }} * {{ p }}) * 10000000000 + abs({{ w }}), 2 * abs({{ w }}))
        * cast(0.0000000001 as numeric(11, 10))
        as decimal(38, 10)
    )
{%- endmacro %}

{% macro duckdb__share_of(amount, part, whole) -%}
    {%- set a = billflow._duckdb_units(amount) -%}
    {%- set p = billflow._duckdb_units(part) -%}
    {%- set w = billflow._duckdb_units(whole) -%}
    cast(
        cast(
            {{ billflow._sign_of_share(a, p, w) }}
            * ((2 * abs({{ a }} * {{ p }}) + abs({{ w }})) // (2 * abs({{ w }})))
            as decimal(28, 0)
        )
        * cast(0.0000000001 as decimal(10, 10))
        as decimal(38, 10)
    )
{%- endmacro %}

{#- A decimal amount (at most 17 integer digits) as a DuckDB hugeint of 1e-10 units. -#}
{% macro _duckdb_units(amount) -%}
    cast(cast(cast({{ amount }} as decimal(27, 10)) * cast(10000000000 as decimal(11, 0)) as decimal(38, 10)) as hugeint)
{%- endmacro %}

{% macro redshift__share_of(amount, part, whole) -%}
    {%- set a = 'cast(' ~ amount ~ ' as decimal(17, 10))' -%}
    {%- set p = 'cast(' ~ part ~ ' as decimal(18, 10))' -%}
    {%- set w = 'cast(' ~ whole ~ ' as decimal(18, 10))' -%}
    {#- Redshift's result types: p1 + p2 + 1 digits for a product, (p1 - s1 + s2 + s, s) with
        s = s1 + p2 - s2 + 1 for a quotient. |a·p| exactly: decimal(36,20). -#}
    {%- set product = 'abs(' ~ a ~ ' * ' ~ p ~ ')' -%}
    {#- |p| / |w|: decimal(37,19); decimal(17,10) x decimal(20,19) = decimal(38,29), rounded to 10 decimals -#}
    {%- set candidate = 'cast(round(abs(' ~ a ~ ') * cast(abs(' ~ p ~ ') / abs(' ~ w ~ ') as decimal(20, 19)), 10)'
        ~ ' as decimal(17, 10))' -%}
    {#- decimal(18,11) x decimal(18,10) = decimal(37,21) -#}
    {%- set below = 'cast(' ~ candidate ~ ' - cast(0.00000000005 as decimal(11, 11)) as decimal(18, 11)) * abs(' ~ w ~ ')' -%}
    {%- set above = 'cast(' ~ candidate ~ ' + cast(0.00000000005 as decimal(11, 11)) as decimal(18, 11)) * abs(' ~ w ~ ')' -%}
    {%- set unit = 'cast(0.0000000001 as decimal(10, 10))' -%}
    cast(
        {{ billflow._sign_of_share(a, p, w) }}
        * case
            when {{ product }} < {{ below }} then {{ candidate }} - {{ unit }}
            when {{ product }} >= {{ above }} then {{ candidate }} + {{ unit }}
            else {{ candidate }}
        end
        as decimal(38, 10)
    )
{%- endmacro %}
