{#
    One row per day, from the start of the year of the earliest value (or `calendar_start`, if
    earlier) to the end of the year after the latest one (or `calendar_end`, if later): the
    calendar follows the data, so a file of old history or of next year's plan never fails
    the relationship test of fct_kpi_values. The fact table's first and last days come from
    its index on measured_on; before its first build the variables alone set the range.
#}
-- depends_on: {{ ref('fct_kpi_values') }}
{%- set facts = load_relation(ref('fct_kpi_values')) if execute else none %}

with

bounds as (
    select
        least(
            '{{ var("calendar_start", "2020-01-01") }}'::date,
            {%- if facts is not none %}
                date_trunc('year', (select min(measured_on) from {{ facts }}))::date,
            {%- endif %}
            null
        ) as first_day,
        greatest(
            '{{ var("calendar_end", "2030-12-31") }}'::date,
            {%- if facts is not none %}
                (
                    date_trunc('year', (select max(measured_on) from {{ facts }}))
                    + interval '2 years' - interval '1 day'
                )::date,
            {%- endif %}
            null
        ) as last_day
),

days_generated as (
    select calendar.day_start::date as date_day
    from bounds
    cross join lateral generate_series(
        bounds.first_day, bounds.last_day, interval '1 day'
    ) as calendar (day_start)
),

final as (
    select
        date_day,
        date_trunc('week', date_day)::date as week_start_date,
        date_trunc('month', date_day)::date as month_start_date,
        extract(isodow from date_day)::integer as iso_day_of_week,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from days_generated
)

select * from final
