with

days_generated as (
    select day_start::date as date_day
    from generate_series(
        '{{ var("calendar_start", "2020-01-01") }}'::date,
        '{{ var("calendar_end", "2030-12-31") }}'::date,
        interval '1 day'
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
