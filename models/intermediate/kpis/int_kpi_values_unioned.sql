{#
    Every candidate KPI value from every source, in one shape, before last-write-wins.
    kpi_value_id is the business key: source kind, day, KPI, department, category, subcategory.
#}
with

sales_values as (
    select
        source_kind,
        measured_on,
        kpi_code,
        kpi_value,
        department,
        category,
        subcategory,
        file_id,
        file_name,
        uploaded_by,
        row_number,
        landed_at
    from {{ ref('int_sales_values_parsed') }}
    where rejection_reason is null
),

headcount_values as (
    select
        'hr_headcount' as source_kind,
        measured_on,
        kpi_code,
        kpi_value,
        department,
        category,
        subcategory,
        file_id,
        file_name,
        uploaded_by,
        row_number,
        landed_at
    from {{ ref('int_headcount_kpis_aggregated') }}
),

ticket_values as (
    select
        'support_tickets' as source_kind,
        measured_on,
        kpi_code,
        kpi_value,
        department,
        category,
        subcategory,
        file_id,
        file_name,
        uploaded_by,
        row_number,
        landed_at
    from {{ ref('int_ticket_kpis_aggregated') }}
),

values_unioned as (
    select * from sales_values
    union all
    select * from headcount_values
    union all
    select * from ticket_values
),

final as (
    select
        md5(concat_ws(
            '|', source_kind, measured_on, kpi_code, department, category, subcategory
        )) as kpi_value_id,
        *
    from values_unioned
)

select * from final
