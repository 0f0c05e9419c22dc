{{ config(materialized='table') }}

{#
    Weekly HR KPIs per department and contract type, from the latest version of each
    employee-week (a later file, or a later row of the same file, replaces an earlier one).

    A table: its window and aggregation run over every row on each build anyway (no filter
    reaches through them), so they run once, and the long chain of views from the landed
    rows stops here rather than in fct_kpi_values. Small: one row per week and group.
#}
with

valid_rows as (
    select * from {{ ref('int_headcount_rows_parsed') }}
    where rejection_reason is null
),

employee_weeks_deduped as (
    {{ latest_per_key('valid_rows', 'employee_week_id') }}
),

kpis_aggregated as (
    select
        measured_on,
        department,
        category,
        count(*)::numeric as headcount,
        sum(fte) as fte,
        sum(absence_days) as absence_days,
        max(landed_at) as landed_at,
        (array_agg(file_id order by landed_at desc, file_id desc))[1] as file_id,
        (array_agg(file_name order by landed_at desc, file_id desc))[1] as file_name,
        (array_agg(uploaded_by order by landed_at desc, file_id desc))[1] as uploaded_by,
        min(row_number) as row_number
    from employee_weeks_deduped
    group by measured_on, department, category
),

final as (
    select
        kpis_aggregated.measured_on,
        kpi_values.kpi_code,
        kpi_values.kpi_value,
        kpis_aggregated.department,
        kpis_aggregated.category,
        null::text as subcategory,
        kpis_aggregated.file_id,
        kpis_aggregated.file_name,
        kpis_aggregated.uploaded_by,
        kpis_aggregated.row_number,
        kpis_aggregated.landed_at
    from kpis_aggregated
    cross join lateral (
        values
        ('headcount', kpis_aggregated.headcount),
        ('fte', kpis_aggregated.fte),
        ('absence_days', kpis_aggregated.absence_days)
    ) as kpi_values (kpi_code, kpi_value)
)

select * from final
