{{
    config(
        materialized='incremental',
        unique_key='summary_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['summary_id'], 'unique': true},
            {'columns': ['measured_on', 'kpi_code']},
            {'columns': ['department']},
        ],
    )
}}

{#
    Per day, KPI, department and category: average, minimum, maximum, sum and count of the KPI
    values, with the KPI's daily target. Incremental: only the days that received new values
    since the last run are recomputed.
#}
with

kpi_values as (
    select * from {{ ref('fct_kpi_values') }}
    {% if is_incremental() %}
        where measured_on in (
            select changed.measured_on
            from {{ ref('fct_kpi_values') }} as changed
            where changed.source_landed_at > (
                select coalesce(max(last_source_landed_at), '-infinity'::timestamptz)
                from {{ this }}
            )
        )
    {% endif %}
),

kpis as (
    select * from {{ ref('dim_kpis') }}
),

values_summarised as (
    select
        measured_on,
        kpi_code,
        department,
        category,
        avg(kpi_value) as value_avg,
        min(kpi_value) as value_min,
        max(kpi_value) as value_max,
        sum(kpi_value) as value_sum,
        count(*) as value_count,
        max(source_landed_at) as last_source_landed_at
    from kpi_values
    group by measured_on, kpi_code, department, category
),

final as (
    select
        md5(concat_ws(
            '|',
            values_summarised.measured_on,
            values_summarised.kpi_code,
            values_summarised.department,
            values_summarised.category
        )) as summary_id,
        values_summarised.measured_on,
        values_summarised.kpi_code,
        kpis.kpi_name,
        kpis.unit,
        values_summarised.department,
        values_summarised.category,
        round(values_summarised.value_avg, 4) as value_avg,
        values_summarised.value_min,
        values_summarised.value_max,
        values_summarised.value_sum,
        values_summarised.value_count::integer as value_count,
        kpis.daily_target,
        values_summarised.last_source_landed_at
    from values_summarised
    inner join kpis
        on values_summarised.kpi_code = kpis.kpi_code
)

select * from final
