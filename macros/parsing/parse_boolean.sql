{#
    A boolean from text in English or French (true/false, yes/no, oui/non, vrai/faux, y/n,
    o/n, 1/0, x for a ticked box), or null when the text says neither.
#}
{% macro parse_boolean(value) -%}
    (case
        when lower(trim({{ value }})) in ('true', 't', 'yes', 'y', 'oui', 'o', 'vrai', 'v', '1', 'x')
            then true
        when lower(trim({{ value }})) in ('false', 'f', 'no', 'n', 'non', 'faux', '0')
            then false
    end)
{%- endmacro %}
