{{
    config(
        materialized='incremental',
        unique_key='rejected_row_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['file_id']}, {'columns': ['source_kind', 'rejection_reason']}],
    )
}}

{#
    Every landed row that could not become a KPI value, with the reason, the column and the
    text that failed: nothing is dropped unseen. Incremental: new files only.
#}
with

row_checks as (
    select * from {{ ref('int_row_checks_unioned') }}
    where
        rejection_reason is not null
    {% if is_incremental() %}
            and landed_at > (
                select coalesce(max(landed_at), '-infinity'::timestamptz) from {{ this }}
            )
        {% endif %}
),

files as (
    select * from {{ ref('int_files_classified') }}
),

final as (
    select
        md5(concat_ws('|', row_checks.file_id, row_checks.sheet_name, row_checks.row_number))
            as rejected_row_id,
        row_checks.file_id,
        files.file_name,
        row_checks.sheet_name,
        row_checks.row_number,
        row_checks.source_kind,
        row_checks.rejection_reason,
        row_checks.checked_column as rejected_column,
        row_checks.checked_value as rejected_value,
        row_checks.landed_at
    from row_checks
    inner join files
        on row_checks.file_id = files.file_id
)

select
    *,
    {{ build_stamp() }}
from final
