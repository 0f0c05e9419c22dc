{#
    Every landed support ticket, typed and pseudonymised: the customer appears only as a keyed
    pseudonym (customer_key) and a masked e-mail; names and companies are dropped here.
#}
with

rows_extracted as (
    {{ extract_cells('support_tickets', [
        'ticket_id', 'opened_at', 'closed_at', 'status', 'department', 'priority',
        'channel', 'customer', 'satisfaction', 'first_response_minutes'
    ]) }}
),

department_aliases as (
    select * from {{ ref('department_aliases') }}
),

category_aliases as (
    select * from {{ ref('category_aliases') }}
    where source_kind = 'support_tickets'
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
        opened_at_text,
        satisfaction_text,
        {{ normalise_text('ticket_id_text') }} as ticket_id,
        {{ parse_timestamp('opened_at_text') }} as opened_at,
        {{ parse_timestamp('closed_at_text') }} as closed_at,
        {{ normalise_key('status_text') }} as ticket_status,
        {{ normalise_key('department_text') }} as department_key,
        {{ normalise_key('priority_text') }} as priority_key,
        {{ normalise_key('channel_text') }} as channel,
        case
            when pg_input_is_valid(customer_text, 'jsonb')
                then customer_text::jsonb ->> 'email'
        end as customer_email,
        {{ parse_number('satisfaction_text', 'decimal_separator') }} as satisfaction_score,
        {{ parse_number('first_response_minutes_text', 'decimal_separator') }}
            as first_response_minutes
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
        'support_tickets' as source_kind,
        rows_parsed.ticket_id,
        rows_parsed.opened_at,
        rows_parsed.closed_at,
        (rows_parsed.opened_at at time zone 'UTC')::date as opened_on,
        rows_parsed.ticket_status,
        department_aliases.department_slug as department,
        coalesce(category_aliases.category, 'Unknown priority') as category,
        rows_parsed.channel as subcategory,
        {{ pseudonymise('rows_parsed.customer_email') }} as customer_key,
        {{ mask_email('rows_parsed.customer_email') }} as customer_email_masked,
        rows_parsed.satisfaction_score,
        rows_parsed.first_response_minutes,
        case
            when rows_parsed.closed_at >= rows_parsed.opened_at
                then round(
                    extract(epoch from (rows_parsed.closed_at - rows_parsed.opened_at)) / 3600.0, 4
                )
        end as resolution_hours,
        case
            when rows_parsed.ticket_id is null then 'missing_value'
            when rows_parsed.opened_at is null then 'invalid_date'
            when department_aliases.department_slug is null then 'unknown_department'
        end as rejection_reason,
        case
            when rows_parsed.ticket_id is null then 'ticket_id'
            when rows_parsed.opened_at is null then 'opened_at'
            else 'department'
        end as checked_column,
        case
            when rows_parsed.ticket_id is null then null
            when rows_parsed.opened_at is null then rows_parsed.opened_at_text
            else rows_parsed.department_key
        end as checked_value
    from rows_parsed
    left join department_aliases
        on rows_parsed.department_key = department_aliases.alias
    left join category_aliases
        on rows_parsed.priority_key = category_aliases.alias
)

select * from final
