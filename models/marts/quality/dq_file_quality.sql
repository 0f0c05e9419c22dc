{{
    config(
        materialized='incremental',
        unique_key='file_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

{#
    Per received file: what landed, what was accepted, what was rejected and why, duplicates
    within the file, and the share of empty cells. Incremental: files received since the last
    run; a file's figures do not change once it is processed.
#}
with

files as (
    select * from {{ ref('int_files_classified') }}
    {% if is_incremental() %}
        {# and the files that were unclassified: a source declared since reads them #}
        where
            _landed_at > (
                select coalesce(max(registered_at), '-infinity'::timestamptz) from {{ this }}
            )
            or file_id in (select file_id from {{ this }} where source_kind = 'unclassified')
    {% endif %}
),

row_checks as (
    select * from {{ ref('int_row_checks_unioned') }}
    {% if is_incremental() %}
        where landed_at > (
            select coalesce(max(landed_at), '-infinity'::timestamptz) from {{ this }}
        )
    {% endif %}
),

checks_counted as (
    select
        file_id,
        count(*) filter (where rejection_reason is null) as rows_accepted,
        count(*) filter (where rejection_reason is not null) as rows_rejected,
        count(*) filter (where rejection_reason is null)
        - count(distinct business_key) filter (where rejection_reason is null)
            as duplicate_rows
    from row_checks
    group by file_id
),

reasons_counted as (
    select
        file_id,
        jsonb_object_agg(rejection_reason, reason_count order by rejection_reason)
            as rejections_by_reason
    from (
        select
            file_id,
            rejection_reason,
            count(*) as reason_count
        from row_checks
        where rejection_reason is not null
        group by file_id, rejection_reason
    ) as reasons
    group by file_id
),

{% if is_incremental() %}
    {# File by file (lateral): PostgreSQL reads only the new files' partitions of records. #}
    cells_counted as (
        select
            files.file_id,
            file_cells.cell_count,
            file_cells.empty_cell_count
        from files
        cross join lateral (
            select
                sum(cardinality(records.cells)) as cell_count,
                sum(
                    cardinality(array_positions(records.cells, ''))
                    + cardinality(array_positions(records.cells, null))
                ) as empty_cell_count
            from {{ ref('stg_raw__records') }} as records
            where records.file_id = files.file_id
        ) as file_cells
    ),
{% else %}
    cells_counted as (
        select
            file_id,
            sum(cardinality(cells)) as cell_count,
            sum(
                cardinality(array_positions(cells, ''))
                + cardinality(array_positions(cells, null))
            ) as empty_cell_count
        from {{ ref('stg_raw__records') }}
        group by file_id
    ),
{% endif %}

final as (
    select
        files.file_id,
        files.file_name,
        files.source_kind,
        files.file_status,
        files.uploaded_by,
        files._landed_at as registered_at,
        files.landed_at,
        coalesce(files.landed_row_count, 0)::bigint as rows_landed,
        coalesce(checks_counted.rows_accepted, 0)::bigint as rows_accepted,
        coalesce(checks_counted.rows_rejected, 0)::bigint as rows_rejected,
        coalesce(checks_counted.duplicate_rows, 0)::bigint as duplicate_rows,
        coalesce(reasons_counted.rejections_by_reason, '{}'::jsonb) as rejections_by_reason,
        round(
            coalesce(
                cells_counted.empty_cell_count::numeric / nullif(cells_counted.cell_count, 0), 0
            ),
            4
        ) as empty_cell_rate
    from files
    left join checks_counted
        on files.file_id = checks_counted.file_id
    left join reasons_counted
        on files.file_id = reasons_counted.file_id
    left join cells_counted
        on files.file_id = cells_counted.file_id
)

select
    *,
    {{ build_stamp() }}
from final
