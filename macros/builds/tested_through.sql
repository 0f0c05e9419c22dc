{#
    The newest landing time up to which a passed, complete `dbt build` has tested every row,
    as a timestamptz literal; none when no build has passed yet (or outside execution).
#}
{% macro tested_through() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set runs = build_runs_relation() -%}
    {%- if adapter.get_relation(runs.database, runs.schema, runs.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select max(tested_through)::text from {{ runs }} where passed
    {%- endset -%}
    {%- set since = run_query(query).columns[0].values()[0] -%}
    {{ return("'" ~ since ~ "'::timestamptz" if since else none) }}
{%- endmacro %}
