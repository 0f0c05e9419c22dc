{#
    The `_built_at` column of an incremental mart: when the dbt invocation that wrote the row
    started. A merge rewrites it on every row it touches, so the publish step
    (flows/warehouse/publish.py) finds what changed since its last publication through an index on it,
    instead of comparing whole tables.
#}
{% macro build_stamp() -%}
    {{ dbt.cast(dbt.string_literal(run_started_at.isoformat()), 'timestamptz') }} as _built_at
{%- endmacro %}
