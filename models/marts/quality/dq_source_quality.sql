{#
    Per source kind: files received, landed, duplicated or failed, rows accepted and rejected,
    and freshness against the cadence declared in source_kinds: a source that stopped sending
    shows as stale.
#}
with

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

file_quality as (
    select * from {{ ref('dq_file_quality') }}
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
        ) as is_stale
    from source_kinds
    left join files_summarised
        on source_kinds.source_kind = files_summarised.source_kind
)

select * from final
