{{ config(materialized='table') }}

{#
    Daily support KPIs per department, priority and channel, from the latest version of each
    ticket (a ticket re-exported with its closing date replaces the open one).

    A table: its window and aggregation run over every ticket on each build anyway (no filter
    reaches through them), so they run once, and the long chain of views from the landed
    rows stops here rather than in fct_kpi_values. Small: one row per day and group.
#}
with

valid_tickets as (
    select * from {{ ref('int_tickets_parsed') }}
    where rejection_reason is null
),

tickets_deduped as (
    {{ latest_per_key('valid_tickets', 'ticket_id') }}
),

kpis_aggregated as (
    select
        opened_on as measured_on,
        department,
        category,
        subcategory,
        count(*)::numeric as tickets_opened,
        round(avg(resolution_hours), 2) as resolution_hours,
        round(avg(satisfaction_score), 2) as satisfaction_score,
        max(landed_at) as landed_at,
        (array_agg(file_id order by landed_at desc, file_id desc))[1] as file_id,
        (array_agg(file_name order by landed_at desc, file_id desc))[1] as file_name,
        (array_agg(uploaded_by order by landed_at desc, file_id desc))[1] as uploaded_by,
        min(row_number) as row_number
    from tickets_deduped
    group by opened_on, department, category, subcategory
),

final as (
    select
        kpis_aggregated.measured_on,
        kpi_values.kpi_code,
        kpi_values.kpi_value,
        kpis_aggregated.department,
        kpis_aggregated.category,
        kpis_aggregated.subcategory,
        kpis_aggregated.file_id,
        kpis_aggregated.file_name,
        kpis_aggregated.uploaded_by,
        kpis_aggregated.row_number,
        kpis_aggregated.landed_at
    from kpis_aggregated
    cross join
        lateral (
            values
            ('tickets_opened', kpis_aggregated.tickets_opened),
            ('resolution_hours', kpis_aggregated.resolution_hours),
            ('satisfaction_score', kpis_aggregated.satisfaction_score)
        ) as kpi_values (kpi_code, kpi_value)
    {# Averages over no rated or closed ticket are no value: the policy for them is 'drop'. #}
    where kpi_values.kpi_value is not null
)

select * from final
