{#
    A date from text, or null when the text is no valid date (never an error):
    ISO `yyyy-mm-dd` (with or without a time after it), `dd/mm/yyyy` or `mm/dd/yyyy` (also with
    `.` or `-`) as `date_order` says ('dmy' or 'mdy', a SQL expression so a seed can decide),
    and Excel serial numbers (days since 1899-12-30, 1955 to 2119).
#}
{% macro parse_date(value, date_order="'dmy'") -%}
    {{ return(adapter.dispatch('parse_date', 'rempart')(value, date_order)) }}
{%- endmacro %}

{% macro postgres__parse_date(value, date_order) -%}
    {%- set iso_text -%}
        (case
            when {{ value }} ~ '^\s*\d{4}-\d{1,2}-\d{1,2}([ T].*)?$'
                then substring({{ value }} from '^\s*(\d{4}-\d{1,2}-\d{1,2})')
            when {{ value }} ~ '^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\s*$'
                then case when {{ date_order }} = 'mdy'
                    then regexp_replace({{ value }}, '^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$', '\3-\1-\2')
                    else regexp_replace({{ value }}, '^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$', '\3-\2-\1')
                end
            when {{ value }} ~ '^\s*\d{5}(\.\d+)?\s*$'
                and trim({{ value }})::numeric between 20000 and 80000
                then (date '1899-12-30' + floor(trim({{ value }})::numeric)::integer)::text
        end)
    {%- endset -%}
    (case when pg_input_is_valid({{ iso_text }}, 'date') then ({{ iso_text }})::date end)
{%- endmacro %}
