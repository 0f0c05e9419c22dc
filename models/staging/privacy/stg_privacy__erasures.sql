with

erasures as (
    select * from {{ source('privacy', 'erasures') }}
),

final as (
    select
        erasure_id::text as erasure_id,
        erased_at,
        identifier_kind,
        identifier_hash
    from erasures
)

select * from final
