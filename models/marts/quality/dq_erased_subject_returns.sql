{#
    Landed rows that hold a person erased before (`rempart privacy erase`), matched on the
    keyed hashes of the erasure register: a later file brought them back. Names the file,
    sheet and row, never the person; `rempart privacy erase` again removes them.
#}
with

erasures as (
    select * from {{ ref('stg_privacy__erasures') }}
),

{# Hashing every identifier cell of every landed row costs a scan of them all: only while the
   register holds an erasure (uncorrelated, the exists is a one-time filter: when the
   register is empty, nothing below it runs). #}
identifiers as (
    select * from {{ ref('int_identifier_hashes_listed') }}
    where exists (select 1 from erasures)
),

matched as (
    select
        erasures.erasure_id,
        min(erasures.erased_at) as erased_at,
        identifiers.file_id,
        identifiers.file_name,
        identifiers.sheet_name,
        identifiers.row_number,
        identifiers.landed_at,
        string_agg(distinct identifiers.identifier_kind, ', ') as matched_on
    from identifiers
    inner join erasures
        on
            identifiers.identifier_kind = erasures.identifier_kind
            and identifiers.identifier_hash = erasures.identifier_hash
    group by
        erasures.erasure_id, identifiers.file_id, identifiers.file_name,
        identifiers.sheet_name, identifiers.row_number, identifiers.landed_at
),

final as (
    select
        md5(concat_ws('|', erasure_id, file_id, sheet_name, row_number)) as returned_row_id,
        erasure_id,
        erased_at,
        file_id,
        file_name,
        sheet_name,
        row_number,
        landed_at,
        matched_on,
        landed_at > erased_at as landed_after_erasure
    from matched
)

select * from final
