{#
    The verdict on every landed row of every known source: accepted (rejection_reason null)
    or rejected, with the column and the value that failed. Feeds the data-quality marts.
#}
with

sales_checks as (
    select
        file_id,
        sheet_name,
        row_number,
        source_kind,
        kpi_value_id as business_key,
        rejection_reason,
        checked_column,
        checked_value,
        landed_at
    from {{ ref('int_sales_values_parsed') }}
),

headcount_checks as (
    select
        file_id,
        sheet_name,
        row_number,
        source_kind,
        employee_week_id as business_key,
        rejection_reason,
        checked_column,
        checked_value,
        landed_at
    from {{ ref('int_headcount_rows_parsed') }}
),

ticket_checks as (
    select
        file_id,
        sheet_name,
        row_number,
        source_kind,
        ticket_id as business_key,
        rejection_reason,
        checked_column,
        checked_value,
        landed_at
    from {{ ref('int_tickets_parsed') }}
),

generic_checks as (
    {# A wide row holds several values: its verdict is its first rejected cell's, if any. #}
    select distinct on (file_id, sheet_name, row_number)
        file_id,
        sheet_name,
        row_number,
        source_kind,
        row_key as business_key,
        rejection_reason,
        checked_column,
        checked_value,
        landed_at
    from {{ ref('int_generic_values_parsed') }}
    order by file_id, sheet_name, row_number, rejection_reason is null, value_position
),

final as (
    select * from sales_checks
    union all
    select * from headcount_checks
    union all
    select * from ticket_checks
    union all
    select * from generic_checks
)

select * from final
