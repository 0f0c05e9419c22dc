{#
    What deserves a look: a KPI's daily total far outside its recent distribution (more than
    `anomaly_z_score` standard deviations from the mean of the previous
    `anomaly_lookback_days` days, with at least `anomaly_min_history` of them), and sources
    that stopped sending.
#}
with

daily_summary as (
    select * from {{ ref('kpi_daily_summary') }}
),

source_quality as (
    select * from {{ ref('dq_source_quality') }}
),

daily_totals as (
    select
        measured_on,
        kpi_code,
        department,
        {# Counts and amounts add up across categories; rates and averages do not (the
           summary carries each KPI's aggregation, from dim_kpis). #}
        case
            when max(aggregation) = 'avg'
                then sum(value_sum) / sum(value_count)
            else sum(value_sum)
        end as value_total
    from daily_summary
    group by measured_on, kpi_code, department
),

totals_with_history as (
    select
        *,
        avg(value_total) over history as history_mean,
        stddev_samp(value_total) over history as history_stddev,
        count(*) over history as history_days
    from daily_totals
    window history as (
        partition by kpi_code, department
        order by measured_on
        range between interval '{{ var("anomaly_lookback_days") }} days' preceding
        and interval '1 day' preceding
    )
),

value_outliers as (
    select
        md5(concat_ws('|', 'value_outlier', measured_on, kpi_code, department)) as anomaly_id,
        'value_outlier' as anomaly_type,
        measured_on,
        kpi_code,
        department,
        null::text as source_kind,
        value_total as observed_value,
        round(history_mean, 4) as expected_value,
        round((value_total - history_mean) / history_stddev, 2) as z_score,
        format(
            '%s for %s on %s: %s, against %s ± %s over the previous days',
            kpi_code, department, measured_on, round(value_total, 2),
            round(history_mean, 2), round(history_stddev, 2)
        ) as anomaly_description
    from totals_with_history
    where
        history_days >= {{ var("anomaly_min_history") }}
        and history_stddev > 0
        and abs(value_total - history_mean) / history_stddev > {{ var("anomaly_z_score") }}
),

silent_sources as (
    select
        md5(concat_ws('|', 'source_silent', source_kind)) as anomaly_id,
        'source_silent' as anomaly_type,
        current_date as measured_on,
        null::text as kpi_code,
        null::text as department,
        source_kind,
        days_since_last_file::numeric as observed_value,
        expected_every_days::numeric as expected_value,
        null::numeric as z_score,
        case
            when last_landed_at is null
                then format('no file from %s has ever landed', source_kind)
            else format(
                'no file from %s for %s days (one expected every %s days)',
                source_kind, days_since_last_file, expected_every_days
            )
        end as anomaly_description
    from source_quality
    where is_stale
),

final as (
    select * from value_outliers
    union all
    select * from silent_sources
)

select * from final
