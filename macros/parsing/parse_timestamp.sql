{#
    A timestamp with time zone from ISO 8601 text (`Z`, `+02:00`, fractions of a second), or
    null when the text is no valid timestamp. Text without a zone is read as UTC: the
    connection's time zone is UTC (`rempart env` sets it).
#}
{% macro parse_timestamp(value) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'rempart')(value)) }}
{%- endmacro %}

{% macro postgres__parse_timestamp(value) -%}
    (case
        when {{ value }} ~ '^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}'
            and pg_input_is_valid(trim({{ value }}), 'timestamptz')
            then trim({{ value }})::timestamptz
    end)
{%- endmacro %}
