{#
    Schemas are named exactly as configured (`staging`, `intermediate`, `marts`, `snapshots`,
    `seeds`), never prefixed with the target schema: grants, row-level security policies and
    Superset refer to these stable names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
