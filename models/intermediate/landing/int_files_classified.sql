with

files as (
    select * from {{ ref('stg_raw__files') }}
),

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

files_matched as (
    select
        files.*,
        source_kinds.source_kind,
        source_kinds.date_order,
        source_kinds.decimal_separator,
        row_number() over (
            partition by files.file_id
            order by source_kinds.source_kind
        ) as match_rank
    from files
    left join source_kinds
        on files.file_name ~* source_kinds.file_name_pattern
),

final as (
    select
        file_id,
        file_name,
        file_type,
        file_status,
        sha256,
        landed_row_count,
        received_at,
        landed_at,
        uploaded_by,
        expired_at,
        _landed_at,
        coalesce(source_kind, 'unclassified') as source_kind,
        coalesce(date_order, 'ymd') as date_order,
        coalesce(decimal_separator, '.') as decimal_separator
    from files_matched
    where match_rank = 1
)

select * from final
