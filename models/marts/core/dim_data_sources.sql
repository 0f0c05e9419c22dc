with

files as (
    select * from {{ ref('int_files_classified') }}
),

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

final as (
    select
        files.file_id,
        files.file_name,
        files.file_type,
        files.file_status,
        files.source_kind,
        coalesce(
            source_kinds.description, 'No source kind claims this file (see dq_unclassified_files)'
        ) as source_description,
        files.classified_by,
        files.candidate_source_kinds,
        files.headers,
        files.sha256,
        files.landed_row_count,
        files.received_at,
        files.landed_at,
        files.uploaded_by
    from files
    left join source_kinds
        on files.source_kind = source_kinds.source_kind
)

select * from final
