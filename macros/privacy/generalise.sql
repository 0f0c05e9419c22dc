{#
    Generalisation, for values that identify people by their precision:
    `generalise_date` keeps the first day of the month (or of another `date_trunc` unit);
    `generalise_to_band` replaces a number by the band of `width` holding it (`30-39`).
#}
{% macro generalise_date(value, unit='month') -%}
    date_trunc('{{ unit }}', {{ value }})::date
{%- endmacro %}

{% macro generalise_to_band(value, width) -%}
    (case
        when {{ value }} is not null
            then (floor({{ value }} / {{ width }}) * {{ width }})::bigint::text
            || '-' || (floor({{ value }} / {{ width }}) * {{ width }} + {{ width }} - 1)::bigint::text
    end)
{%- endmacro %}
