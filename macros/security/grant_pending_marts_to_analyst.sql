{#
    Lets the analyst into the schema of pending marts, to inspect what a failed build holds
    back; dbt's `grants` covers the tables themselves. The published schema `marts` is the
    publish step's (flows/warehouse/publish.py), which grants it to every reader.
#}
{% macro grant_pending_marts_to_analyst() %}
    {%- if execute -%}
        {%- if adapter.check_schema_exists(target.database, 'marts_pending') -%}
            grant usage on schema {{ adapter.quote('marts_pending') }} to {{ adapter.quote(var('analyst_role')) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
