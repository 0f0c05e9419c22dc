{#
    Every landed file Rempart could not attribute to a source, with its headers: no file name
    pattern matched, and its headers fit no source kind, or several (candidate_source_kinds).
    Its rows wait in raw, untouched; `rempart sources suggest <file>` prints the seed lines
    that would declare its source, and the next run reads it.

    The department is unknown until then, so only analysts see these rows (row-level security
    gives a viewer the rows of their department). Read from dim_data_sources, the mart of
    every received file, which says the same of each.
#}
with

files as (
    select * from {{ ref('dim_data_sources') }}
    where source_kind = 'unclassified' and file_status = 'landed'
),

final as (
    select
        file_id,
        file_name,
        file_type,
        received_at,
        uploaded_by,
        landed_row_count,
        headers,
        candidate_source_kinds,
        case
            when candidate_source_kinds is not null
                then 'its headers fit several sources: ' || candidate_source_kinds
            else 'no source name pattern or headers fit it'
        end as unclassified_reason,
        'rempart sources suggest ' || file_name as suggestion,
        null::text as department
    from files
)

select * from final
