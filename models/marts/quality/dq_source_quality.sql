{#
    Per source kind: files received, landed, duplicated or failed, rows accepted and rejected,
    and freshness against the cadence declared in source_kinds: a source that stopped sending
    shows as stale. And what is kept of it, and until when (its retention period).
#}
with

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

file_quality as (
    select * from {{ ref('dq_file_quality') }}
),

file_retention as (
    select * from {{ ref('dq_file_retention') }}
),

retention_summarised as (
    select
        source_kind,
        count(*) filter (where not is_expired) as files_kept,
        count(*) filter (where is_expired) as files_expired,
        min(received_at) filter (where not is_expired) as oldest_kept_received_at,
        min(kept_until) filter (where not is_expired) as next_removal_at
    from file_retention
    group by source_kind
),

files_summarised as (
    select
        source_kind,
        count(*) as files_received,
        count(*) filter (where file_status = 'landed') as files_landed,
        count(*) filter (where file_status = 'duplicate') as files_duplicate,
        count(*) filter (where file_status = 'failed') as files_failed,
        sum(rows_landed) as rows_landed,
        sum(rows_accepted) as rows_accepted,
        sum(rows_rejected) as rows_rejected,
        sum(duplicate_rows) as duplicate_rows,
        max(landed_at) as last_landed_at
    from file_quality
    group by source_kind
),

final as (
    select
        source_kinds.source_kind,
        source_kinds.description as source_description,
        source_kinds.expected_every_days::integer as expected_every_days,
        coalesce(files_summarised.files_received, 0)::bigint as files_received,
        coalesce(files_summarised.files_landed, 0)::bigint as files_landed,
        coalesce(files_summarised.files_duplicate, 0)::bigint as files_duplicate,
        coalesce(files_summarised.files_failed, 0)::bigint as files_failed,
        coalesce(files_summarised.rows_landed, 0)::bigint as rows_landed,
        coalesce(files_summarised.rows_accepted, 0)::bigint as rows_accepted,
        coalesce(files_summarised.rows_rejected, 0)::bigint as rows_rejected,
        coalesce(files_summarised.duplicate_rows, 0)::bigint as duplicate_rows,
        files_summarised.last_landed_at,
        extract(
            day from now() - files_summarised.last_landed_at
        )::integer as days_since_last_file,
        coalesce(
            now() - files_summarised.last_landed_at
            > make_interval(days => source_kinds.expected_every_days::integer),
            true
        ) as is_stale,
        source_kinds.retention_days::integer as retention_days,
        source_kinds.mart_history,
        coalesce(retention_summarised.files_kept, 0)::bigint as files_kept,
        coalesce(retention_summarised.files_expired, 0)::bigint as files_expired,
        retention_summarised.oldest_kept_received_at,
        retention_summarised.next_removal_at
    from source_kinds
    left join files_summarised
        on source_kinds.source_kind = files_summarised.source_kind
    left join retention_summarised
        on source_kinds.source_kind = retention_summarised.source_kind
)

select * from final
