with

raw_sheets as (
    select * from {{ source('raw', 'sheets') }}
),

final as (
    select
        file_id,
        sheet as sheet_name,
        headers,
        row_count as landed_row_count
    from raw_sheets
)

select * from final
