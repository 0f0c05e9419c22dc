with

raw_files as (
    select * from {{ source('raw', 'files') }}
),

final as (
    select
        file_id,
        file_name,
        file_type,
        size_bytes,
        sha256,
        status as file_status,
        row_count as landed_row_count,
        error as error_message,
        duplicate_of as duplicate_of_file_id,
        received_at,
        landed_at,
        uploaded_by,
        archive_path,
        expired_at,
        _landed_at
    from raw_files
)

select * from final
