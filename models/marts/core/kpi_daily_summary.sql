{{
    config(
        materialized='incremental',
        unique_key='summary_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['measured_on', 'kpi_code']},
            {'columns': ['department']},
            {'columns': ['last_source_landed_at']},
            {'columns': ['_built_at']},
        ],
    )
}}

{#
    Per day, KPI, department and category: average, minimum, maximum, sum and count of the KPI
    values, with the KPI's aggregation and daily target. Incremental: only the groups (day, KPI,
    department, category) that received a value since the last run, or whose KPI definition
    changed, are recomputed, each from its own values found through the fact table's index on
    those columns: the cost follows the new values, not the history.
#}
{%- set kpi_definition_columns = ['kpi_name', 'unit', 'aggregation', 'daily_target'] %}
{%- set aggregates %}
        avg(kpi_value) as value_avg,
        min(kpi_value) as value_min,
        max(kpi_value) as value_max,
        sum(kpi_value) as value_sum,
        count(*) as value_count,
        max(source_landed_at) as last_source_landed_at
{%- endset %}

with

kpis as (
    select * from {{ ref('dim_kpis') }}
),

{% if is_incremental() %}
    groups_changed as (
        select distinct
            measured_on,
            kpi_code,
            department,
            category
        from {{ ref('fct_kpi_values') }}
        where source_landed_at > (
            select coalesce(max(last_source_landed_at), '-infinity'::timestamptz)
            from {{ this }}
        )

        union

        {# A KPI definition edited in the seed reaches the groups already summarised too, not
           only those that receive new values; so does a definition column the table does not
           have yet (added by on_schema_change), which counts as changed. #}
        select
            summary.measured_on,
            summary.kpi_code,
            summary.department,
            summary.category
        from {{ this }} as summary
        inner join kpis
            on summary.kpi_code = kpis.kpi_code
        where
            {%- set summarised = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
            {%- for column in kpi_definition_columns %}
                {{ 'or ' if not loop.first }}
                {%- if column in summarised -%}
                    summary.{{ column }} is distinct from kpis.{{ column }}
                {%- else -%}
                    true
                {%- endif %}
            {%- endfor %}
    ),

    {# Lateral: each changed group aggregates its own values, read through the fact table's
       index on the group's columns (the category compared with `=` or both null, so the index
       serves it too), whatever the planner guesses about how many groups changed. #}
    values_summarised as (
        select
            groups_changed.measured_on,
            groups_changed.kpi_code,
            groups_changed.department,
            groups_changed.category,
            group_values.*
        from groups_changed
        cross join lateral (
            select {{ aggregates }}
            from {{ ref('fct_kpi_values') }} as kpi_values
            where
                kpi_values.measured_on = groups_changed.measured_on
                and kpi_values.kpi_code = groups_changed.kpi_code
                and kpi_values.department = groups_changed.department
                and (
                    kpi_values.category = groups_changed.category
                    or (kpi_values.category is null and groups_changed.category is null)
                )
        ) as group_values
    ),
{% else %}
    kpi_values as (
        select * from {{ ref('fct_kpi_values') }}
    ),

    values_summarised as (
        select
            measured_on,
            kpi_code,
            department,
            category,
            {{- aggregates }}
        from kpi_values
        group by measured_on, kpi_code, department, category
    ),
{% endif %}

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
        kpis.aggregation,
        kpis.daily_target,
        values_summarised.last_source_landed_at
    from values_summarised
    inner join kpis
        on values_summarised.kpi_code = kpis.kpi_code
)

select
    *,
    {{ build_stamp() }}
from final
