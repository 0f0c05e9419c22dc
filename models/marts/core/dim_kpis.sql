with

kpi_definitions as (
    select * from {{ ref('kpi_definitions') }}
),

final as (
    select
        kpi_code,
        kpi_name,
        source_kind,
        unit,
        direction,
        aggregation,
        daily_target::numeric as daily_target,
        missing_value_policy,
        description as kpi_description
    from kpi_definitions
)

select * from final
