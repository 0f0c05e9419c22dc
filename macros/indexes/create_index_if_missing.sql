{#
    `create index if not exists` on `relation`, named after its columns (plus `current` or
    `where` for a partial index on `condition`), for a post-hook: idempotent, so it also adds
    the index to a table built before it was declared (a snapshot is never rebuilt), and it
    can be partial, which the `indexes` config cannot.
#}
{% macro create_index_if_missing(relation, columns, condition=none, suffix='where') -%}
    {%- set name = relation.identifier ~ '__' ~ (columns | join('__')) ~ ('__' ~ suffix if condition else '') -%}
    create index if not exists {{ adapter.quote(name) }}
    on {{ relation }} ({{ columns | join(', ') }})
    {%- if condition %} where {{ condition }}{% endif %}
{%- endmacro %}
