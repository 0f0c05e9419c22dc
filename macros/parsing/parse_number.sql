{#
    A number from text as people write it, or null when it is not one: spaces (also no-break
    and narrow no-break) and currency or percent signs are ignored; `decimal_separator` (a SQL
    expression, ',' or '.') settles the ambiguous cases. When both ',' and '.' appear, the last
    one is the decimal separator. A single kind of separator repeated in groups of three digits
    (`1,234,567`) is a thousands separator unless it is the declared decimal one; otherwise
    it is the decimal separator (`1,0` is one even where '.' is declared). `12,5,3` is no number.
    Percentages stay in percentage points: `3,45 %` is 3.45.
#}
{% macro parse_number(value, decimal_separator="'.'") -%}
    {{ return(adapter.dispatch('parse_number', 'rempart')(value, decimal_separator)) }}
{%- endmacro %}

{% macro postgres__parse_number(value, decimal_separator) -%}
    {%- set compact -%}
        regexp_replace({{ value }}, '[[:space:]\u00a0\u202f€$£%]', '', 'g')
    {%- endset -%}
    {%- set normalised -%}
        (case
            when {{ compact }} ~ '^[+-]?[0-9.]*,[0-9]*$' and {{ compact }} ~ '\.'
                then replace(replace({{ compact }}, '.', ''), ',', '.')
            when {{ compact }} ~ '^[+-]?[0-9,]*\.[0-9]*$' and {{ compact }} ~ ','
                then replace({{ compact }}, ',', '')
            when {{ compact }} ~ '^[+-]?\d{1,3}(,\d{3})+$' and {{ decimal_separator }} <> ','
                then replace({{ compact }}, ',', '')
            when {{ compact }} ~ '^[+-]?\d{1,3}(\.\d{3})+$' and {{ decimal_separator }} = ','
                then replace({{ compact }}, '.', '')
            when {{ compact }} ~ '^[+-]?\d*,\d+$' then replace({{ compact }}, ',', '.')
            else {{ compact }}
        end)
    {%- endset -%}
    (case
        when {{ normalised }} ~ '^[+-]?(\d+\.?\d*|\.\d+)$' then ({{ normalised }})::numeric
    end)
{%- endmacro %}
