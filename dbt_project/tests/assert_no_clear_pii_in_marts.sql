{#
    Fails when any text column of any relation in the marts schema holds a clear PII value:
    a name, employee ID or e-mail found in the landed files, or anything shaped like an
    unmasked e-mail address. Columns are found at run time, so a new mart is covered
    without being listed. On an incremental build, a mart that declares its landing-time
    column (meta landed_at_column) is read for its rows landed since the last passed build
    only (new_rows_condition), any other relation in full.
#}
{{ config(severity='error') }}

{#- Run after every mart is built, so a first build checks them all (list new marts here). #}
-- depends_on: {{ ref('fct_kpi_values') }}
-- depends_on: {{ ref('kpi_daily_summary') }}
-- depends_on: {{ ref('dim_kpis') }}
-- depends_on: {{ ref('dim_departments') }}
-- depends_on: {{ ref('dim_data_sources') }}
-- depends_on: {{ ref('dim_dates') }}
-- depends_on: {{ ref('dq_file_quality') }}
-- depends_on: {{ ref('dq_source_quality') }}
-- depends_on: {{ ref('dq_rejected_rows') }}
-- depends_on: {{ ref('dq_kpi_anomalies') }}
-- depends_on: {{ ref('fct_pipeline_builds') }}

{%- set marts_schema = 'marts_pending' %}
{%- set text_columns = {} %}
{%- if execute %}
    {%- set query %}
        select table_name, column_name
        from information_schema.columns
        where
            table_schema = '{{ marts_schema }}'
            and data_type in ('text', 'character varying')
        order by table_name, column_name
    {%- endset %}
    {%- for table_name, column_name in run_query(query).rows %}
        {%- do text_columns.setdefault(table_name, []).append(column_name) %}
    {%- endfor %}
{%- endif %}
{%- set marts = {} %}
{%- if execute %}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.schema == marts_schema %}
        {%- do marts.update({node.alias: node}) %}
    {%- endfor %}
{%- endif %}

with

pii_values as (
    select pii_value from {{ ref('int_pii_values_listed') }}
),

mart_cells as (
    {%- for table_name, column_names in text_columns.items() %}
        {%- set scope = new_rows_condition(marts.get(table_name)) %}
        {%- set table_loop = loop %}
        {%- for column_name in column_names %}
            select distinct
                '{{ table_name }}' as table_name,
                '{{ column_name }}' as column_name,
                lower(trim({{ adapter.quote(column_name) }})) as cell
            from {{ api.Relation.create(schema=marts_schema, identifier=table_name) }}
            {%- if scope %}
                where {{ scope }}
            {%- endif %}
            {% if not (table_loop.last and loop.last) %}union all{% endif %}
        {%- endfor %}
    {%- else %}
        select
            null::text as table_name,
            null::text as column_name,
            null::text as cell
        where false
    {%- endfor %}
),

cells_in_clear as (
    select
        mart_cells.table_name,
        mart_cells.column_name
    from mart_cells
    left join pii_values
        on mart_cells.cell = pii_values.pii_value
    where
        pii_values.pii_value is not null
        or mart_cells.cell ~ '^[^*@[:space:]]{2,}@[^@[:space:]]+\.[a-z]{2,}$'
),

final as (
    select
        table_name,
        column_name,
        count(*) as clear_pii_values
    from cells_in_clear
    group by table_name, column_name
)

select * from final
