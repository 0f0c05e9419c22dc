with

sheets as (
    select * from {{ ref('stg_raw__sheets') }}
),

files as (
    select * from {{ ref('int_files_classified') }}
),

header_aliases as (
    select * from {{ ref('header_aliases') }}
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
        header_aliases.column_name
    from headers_unnested
    left join header_aliases
        on
            headers_unnested.source_kind = header_aliases.source_kind
            and {{ normalise_key('headers_unnested.header') }} = lower(header_aliases.header)
)

select * from final
