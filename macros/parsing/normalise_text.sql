{#
    Text with surrounding space trimmed and inner runs of space collapsed; empty becomes null.
    `normalise_key` also lower-cases it, for matching against the alias seeds.
#}
{% macro normalise_text(value) -%}
    nullif(regexp_replace(trim({{ value }}), '[[:space:]\u00a0]+', ' ', 'g'), '')
{%- endmacro %}

{% macro normalise_key(value) -%}
    lower({{ normalise_text(value) }})
{%- endmacro %}
