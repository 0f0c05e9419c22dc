with

sheets as (
    select * from {{ ref('stg_raw__sheets') }}
),

files as (
    select * from {{ ref('int_files_classified') }}
),

known_headers as (
    select * from {{ ref('int_source_kind_headers_listed') }}
),

headers_unnested as (
    select
        sheets.file_id,
        sheets.sheet_name,
        files.source_kind,
        unnested.header,
        unnested.column_position::integer as column_position
    from sheets
    inner join files
        on sheets.file_id = files.file_id
    cross join lateral unnest(sheets.headers) with ordinality as unnested (header, column_position)
),

final as (
    select
        headers_unnested.file_id,
        headers_unnested.sheet_name,
        headers_unnested.source_kind,
        headers_unnested.header,
        headers_unnested.column_position,
        known_headers.column_name,
        known_headers.kpi_code
    from headers_unnested
    left join known_headers
        on
            headers_unnested.source_kind = known_headers.source_kind
            and {{ normalise_key('headers_unnested.header') }} = known_headers.header_key
)

select * from final
