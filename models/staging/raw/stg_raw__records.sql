with

raw_records as (
    select * from {{ source('raw', 'records') }}
),

final as (
    select
        file_id,
        sheet as sheet_name,
        row_number,
        cells,
        _landed_at
    from raw_records
)

select * from final
