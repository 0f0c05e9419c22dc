{#
    Every landed row of the HR headcount workbooks, typed and pseudonymised: employees appear
    only as a keyed pseudonym (employee_key) and a masked e-mail; their names are dropped here
    and never reach any later model.
#}
with

rows_extracted as (
    {{ extract_cells('hr_headcount', [
        'measured_on', 'department', 'employee_id', 'employee_name',
        'email', 'fte', 'absence_days', 'contract'
    ]) }}
),

department_aliases as (
    select * from {{ ref('department_aliases') }}
),

category_aliases as (
    select * from {{ ref('category_aliases') }}
    where source_kind = 'hr_headcount'
),

{# Materialized: the normalised keys are computed once per row, then matched to the
   alias seeds by plain equality (inlined, the planner would re-run them per seed row). #}
rows_parsed as materialized (
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        uploaded_by,
        measured_on_text,
        fte_text,
        absence_days_text,
        {{ parse_date('measured_on_text', 'date_order') }} as measured_on,
        {{ pseudonymise('employee_id_text') }} as employee_key,
        {{ mask_email('email_text') }} as email_masked,
        {{ parse_number('fte_text', 'decimal_separator') }} as fte,
        {{ parse_number('absence_days_text', 'decimal_separator') }} as parsed_absence_days,
        {{ normalise_key('department_text') }} as department_key,
        {{ normalise_key('contract_text') }} as contract_key
    from rows_extracted
),

final as (
    select
        rows_parsed.file_id,
        rows_parsed.sheet_name,
        rows_parsed.row_number,
        rows_parsed.file_name,
        rows_parsed.landed_at,
        rows_parsed.uploaded_by,
        'hr_headcount' as source_kind,
        rows_parsed.measured_on,
        rows_parsed.employee_key,
        rows_parsed.email_masked,
        department_aliases.department_slug as department,
        coalesce(category_aliases.category, 'Unknown contract') as category,
        rows_parsed.fte,
        {# Declared policy (kpi_definitions): a blank absence cell means no absence. #}
        case
            when {{ normalise_text('rows_parsed.absence_days_text') }} is null then 0
            else rows_parsed.parsed_absence_days
        end as absence_days,
        md5(concat_ws('|', rows_parsed.employee_key, rows_parsed.measured_on)) as employee_week_id,
        case
            when rows_parsed.measured_on is null then 'invalid_date'
            when rows_parsed.employee_key is null then 'missing_value'
            when department_aliases.department_slug is null then 'unknown_department'
            when {{ normalise_text('rows_parsed.fte_text') }} is null then 'missing_value'
            when rows_parsed.fte is null then 'unparseable_number'
            when
                rows_parsed.parsed_absence_days is null
                and {{ normalise_text('rows_parsed.absence_days_text') }} is not null
                then 'unparseable_number'
        end as rejection_reason,
        case
            when rows_parsed.measured_on is null then 'measured_on'
            when rows_parsed.employee_key is null then 'employee_id'
            when department_aliases.department_slug is null then 'department'
            when rows_parsed.fte is null then 'fte'
            else 'absence_days'
        end as checked_column,
        case
            when rows_parsed.measured_on is null then rows_parsed.measured_on_text
            when rows_parsed.employee_key is null then null
            when department_aliases.department_slug is null then rows_parsed.department_key
            when rows_parsed.fte is null then rows_parsed.fte_text
            else rows_parsed.absence_days_text
        end as checked_value
    from rows_parsed
    left join department_aliases
        on rows_parsed.department_key = department_aliases.alias
    left join category_aliases
        on rows_parsed.contract_key = category_aliases.alias
)

select * from final
