{#
    Per received file: how long its source keeps it and until when, or when its rows and
    copies were removed. `rempart retention apply` removes the files whose kept_until has
    passed. A file of no declared source has no retention period: it is kept, and shows so.
#}
with

files as (
    select * from {{ ref('int_files_classified') }}
),

final as (
    select
        file_id,
        file_name,
        source_kind,
        file_status,
        landed_row_count,
        received_at,
        retention_days::integer as retention_days,
        mart_history,
        received_at + make_interval(days => retention_days::integer) as kept_until,
        expired_at,
        expired_at is not null as is_expired
    from files
)

select * from final
