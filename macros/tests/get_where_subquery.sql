{#
    What a generic data test reads: the model, narrowed by the test's `where` config if any and,
    on incremental builds, to the rows landed since the last passed complete build
    (new_rows_condition). A `dbt build --full-refresh`, `dbt test`, or a build with
    `--vars '{test_all_rows: true}'` tests every row.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and model.get('attached_node') -%}
        {%- set scope = new_rows_condition(graph.nodes.get(model.attached_node)) -%}
        {%- if scope -%}
            {%- do conditions.append(scope) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) as dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
