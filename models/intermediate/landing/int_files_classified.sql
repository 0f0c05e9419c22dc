{#
    Every received file with its source kind: the one whose file name pattern it matches
    (the first, by name, if several do); failing that, the one its headers fit; failing that,
    `unclassified`, with the source kinds its headers fit when there are several. Never a
    guess: a file whose headers fit two kinds is left unclassified for a person to decide
    (`rempart sources suggest`). With it, what the models need of that source: its layout,
    department, date order and decimal separator, and its retention period.

    Headers fit a kind when every header of a sheet is one the kind understands
    (int_source_kind_headers_listed) and the sheet has the columns the kind's layout needs:
    long, a date, a KPI and a value; wide, a date and a KPI column; both, a department column
    unless the kind belongs to one department.
#}
with

files as (
    select * from {{ ref('stg_raw__files') }}
),

sheets as (
    select * from {{ ref('stg_raw__sheets') }}
),

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

known_headers as (
    select * from {{ ref('int_source_kind_headers_listed') }}
),

names_matched as (
    select
        files.file_id,
        min(source_kinds.source_kind) as source_kind
    from files
    inner join source_kinds
        on files.file_name ~* source_kinds.file_name_pattern
    group by files.file_id
),

sheet_headers as (
    select
        sheets.file_id,
        sheets.sheet_name,
        {{ normalise_key('unnested.header_text') }} as header_key
    from sheets
    cross join lateral unnest(sheets.headers) as unnested (header_text)
    where {{ normalise_key('unnested.header_text') }} is not null
),

sheets_fitted as (
    {# Per sheet and kind: how many of the sheet's headers the kind knows, and which columns
       they give. #}
    select
        sheet_headers.file_id,
        sheet_headers.sheet_name,
        source_kinds.source_kind,
        source_kinds.layout,
        source_kinds.department_slug,
        count(*) as header_count,
        count(known_headers.column_name) as known_count,
        array_remove(array_agg(distinct known_headers.column_name), null) as columns_found
    from sheet_headers
    cross join source_kinds
    left join known_headers
        on
            source_kinds.source_kind = known_headers.source_kind
            and sheet_headers.header_key = known_headers.header_key
    group by
        sheet_headers.file_id,
        sheet_headers.sheet_name,
        source_kinds.source_kind,
        source_kinds.layout,
        source_kinds.department_slug
),

headers_matched as (
    select
        file_id,
        array_agg(distinct source_kind order by source_kind) as candidates
    from sheets_fitted
    where
        known_count = header_count
        and (
            layout = 'custom'
            or (
                'measured_on' = any(columns_found)
                and (department_slug is not null or 'department' = any(columns_found))
                and (
                    (layout = 'long' and columns_found @> array['kpi_code', 'value'])
                    or (layout = 'wide' and 'kpi_value' = any(columns_found))
                )
            )
        )
    group by file_id
),

headers_listed as (
    select
        file_id,
        string_agg(array_to_string(headers, ', '), ' | ' order by sheet_name) as headers
    from sheets
    group by file_id
),

files_matched as (
    select
        files.*,
        headers_listed.headers,
        case
            when names_matched.source_kind is not null then names_matched.source_kind
            when cardinality(headers_matched.candidates) = 1 then headers_matched.candidates[1]
        end as matched_source_kind,
        case
            when names_matched.source_kind is not null then 'file_name'
            when cardinality(headers_matched.candidates) = 1 then 'headers'
        end as classified_by,
        case
            when names_matched.source_kind is null and cardinality(headers_matched.candidates) > 1
                then array_to_string(headers_matched.candidates, ', ')
        end as candidate_source_kinds
    from files
    left join names_matched
        on files.file_id = names_matched.file_id
    left join headers_matched
        on files.file_id = headers_matched.file_id
    left join headers_listed
        on files.file_id = headers_listed.file_id
),

final as (
    select
        files_matched.file_id,
        files_matched.file_name,
        files_matched.file_type,
        files_matched.file_status,
        files_matched.sha256,
        files_matched.landed_row_count,
        files_matched.received_at,
        files_matched.landed_at,
        files_matched.uploaded_by,
        files_matched.expired_at,
        files_matched._landed_at,
        coalesce(files_matched.matched_source_kind, 'unclassified') as source_kind,
        files_matched.classified_by,
        files_matched.candidate_source_kinds,
        files_matched.headers,
        coalesce(source_kinds.layout, 'custom') as layout,
        source_kinds.department_slug as source_department,
        coalesce(source_kinds.date_order, 'ymd') as date_order,
        coalesce(source_kinds.decimal_separator, '.') as decimal_separator,
        source_kinds.retention_days,
        source_kinds.mart_history
    from files_matched
    left join source_kinds
        on files_matched.matched_source_kind = source_kinds.source_kind
)

select * from final
