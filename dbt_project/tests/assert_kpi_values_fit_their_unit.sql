{#
    Fails on a KPI value its unit cannot hold: a percentage outside 0-100, a score outside
    1-5, a negative count (units, employees, tickets, days, hours). Such a value is a broken
    source, not a fact: the build fails and the value is not published (write-audit-publish)
    until a corrected file replaces it. On an incremental build, only the values landed since
    the last passed build are read (new_rows_condition).
#}
{{ config(severity='error') }}

{%- set scope = none %}
{%- if execute %}
    {%- set scope = new_rows_condition(graph.nodes.get('model.rempart.fct_kpi_values')) %}
{%- endif %}

with

kpi_values as (
    select * from {{ ref('fct_kpi_values') }}
    {%- if scope %}
        where {{ scope }}
    {%- endif %}
),

kpis as (
    select * from {{ ref('dim_kpis') }}
),

final as (
    select
        kpi_values.kpi_value_id,
        kpi_values.kpi_code,
        kpis.unit,
        kpi_values.kpi_value,
        kpi_values.source_file_name,
        kpi_values.source_row_number
    from kpi_values
    inner join kpis
        on kpi_values.kpi_code = kpis.kpi_code
    where
        (kpis.unit = '%' and kpi_values.kpi_value not between 0 and 100)
        or (kpis.unit = 'score (1-5)' and kpi_values.kpi_value not between 1 and 5)
        or (
            kpis.unit in ('units', 'employees', 'FTE', 'tickets', 'days', 'hours')
            and kpi_values.kpi_value < 0
        )
)

select * from final
