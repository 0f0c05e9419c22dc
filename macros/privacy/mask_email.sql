{#
    An e-mail address masked for display: its first character, three stars and its domain
    (`jeanne.roux@example.org` becomes `j***@example.org`); null when it is no e-mail address.
#}
{% macro mask_email(value) -%}
    (case
        when {{ normalise_key(value) }} ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
            then left({{ normalise_key(value) }}, 1) || '***@' || split_part({{ normalise_key(value) }}, '@', 2)
    end)
{%- endmacro %}
