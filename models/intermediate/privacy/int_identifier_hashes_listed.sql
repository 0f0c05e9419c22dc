{#
    Every identifier cell of every landed row (employee IDs and e-mails, customers' e-mails,
    as seeds/personal_data.csv declares them), as its keyed hash: what a landed row is
    matched on against the erasure register. A view, read only by dq_erased_subject_returns,
    which reads it only while the register holds an erasure (a one-time filter skips every
    scan when the register is empty).
#}
with

employee_rows as (
    {{ extract_cells('hr_headcount', ['employee_id', 'email']) }}
),

customer_rows as (
    {{ extract_cells('support_tickets', ['customer']) }}
),

{# One row per identifier cell: the employee's two, the customer's e-mail. #}
identifier_cells as (
    select
        employee_rows.file_id,
        employee_rows.sheet_name,
        employee_rows.row_number,
        employee_rows.file_name,
        employee_rows.landed_at,
        cells.identifier_kind,
        cells.identifier_text
    from employee_rows
    cross join
        lateral (
            values
            ('employee_id', employee_rows.employee_id_text),
            ('email', employee_rows.email_text)
        ) as cells (identifier_kind, identifier_text)
    union all
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        'email' as identifier_kind,
        case
            when pg_input_is_valid(customer_text, 'jsonb')
                then customer_text::jsonb ->> 'email'
        end as identifier_text
    from customer_rows
),

final as (
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        identifier_kind,
        privacy.identifier_hash(identifier_text) as identifier_hash
    from identifier_cells
    where {{ normalise_text('identifier_text') }} is not null
)

select * from final
