{#
    A number from text as people write it, or null when it is not one: spaces (also no-break
    and narrow no-break) and currency or percent signs are ignored; `decimal_separator` (a SQL
    expression, ',' or '.') settles the ambiguous cases. When both ',' and '.' appear, the last
    one is the decimal separator. A single kind of separator repeated in groups of three digits
    (`1,234,567`) is a thousands separator unless it is the declared decimal one; otherwise
    it is the decimal separator (`1,0` is one even where '.' is declared). `12,5,3` is no number.
    Percentages stay in percentage points: `3,45 %` is 3.45.

    Each step is computed once per value: a scalar subquery over two nested subqueries that
    `offset 0` keeps PostgreSQL from flattening (flattened, every use of the compacted text
    would repeat its regexp_replace: some forty per value instead of one).
#}
{% macro parse_number(value, decimal_separator="'.'") -%}
    {{ return(adapter.dispatch('parse_number', 'rempart')(value, decimal_separator)) }}
{%- endmacro %}

{% macro postgres__parse_number(value, decimal_separator) -%}
    (
        select
            case
                when normalised.number_text ~ '^[+-]?(\d+\.?\d*|\.\d+)$'
                    then normalised.number_text::numeric
            end
        from (
            select
                case
                    when compacted.number_text ~ '^[+-]?[0-9.]*,[0-9]*$'
                        and compacted.number_text ~ '\.'
                        then replace(replace(compacted.number_text, '.', ''), ',', '.')
                    when compacted.number_text ~ '^[+-]?[0-9,]*\.[0-9]*$'
                        and compacted.number_text ~ ','
                        then replace(compacted.number_text, ',', '')
                    when compacted.number_text ~ '^[+-]?\d{1,3}(,\d{3})+$'
                        and {{ decimal_separator }} <> ','
                        then replace(compacted.number_text, ',', '')
                    when compacted.number_text ~ '^[+-]?\d{1,3}(\.\d{3})+$'
                        and {{ decimal_separator }} = ','
                        then replace(compacted.number_text, '.', '')
                    when compacted.number_text ~ '^[+-]?\d*,\d+$'
                        then replace(compacted.number_text, ',', '.')
                    else compacted.number_text
                end as number_text
            from (
                select compacted_values.number_text
                from (
                    values (regexp_replace({{ value }}, '[[:space:]\u00a0\u202f€$£%]', '', 'g'))
                ) as compacted_values (number_text)
                offset 0
            ) as compacted
            offset 0
        ) as normalised
    )
{%- endmacro %}
