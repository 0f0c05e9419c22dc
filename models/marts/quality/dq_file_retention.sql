{#
    Per received file: how long its source keeps it and until when, or when its rows and
    copies were removed. `rempart retention apply` removes the files whose kept_until has
    passed. A file of no declared source has no retention period: it is kept, and shows so.
#}
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
        files.source_kind,
        files.file_status,
        files.landed_row_count,
        files.received_at,
        source_kinds.retention_days::integer as retention_days,
        source_kinds.mart_history,
        files.received_at
        + make_interval(days => source_kinds.retention_days::integer) as kept_until,
        files.expired_at,
        files.expired_at is not null as is_expired
    from files
    left join source_kinds
        on files.source_kind = source_kinds.source_kind
)

select * from final
