{{
    config(
        materialized='incremental',
        unique_key='file_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

{#
    Every received file as it is classified now, with what the generic parsing
    (int_generic_values_parsed) needs of it and of its source, and when its source kind last
    changed after it was first classified: an unclassified file becomes readable once a person
    declares its source (`rempart sources suggest --write`), long after it landed. The generic
    parsing dates the values of such a file from that moment, so the incremental marts, which
    take the values landed since their last run, take them too. Null for a file that never
    changed kind.

    Incremental on purpose: it remembers the previous build's classification. Every file is
    merged on every build (the registry is small), so the other columns are always current.
#}
with

files as (
    select * from {{ ref('int_files_classified') }}
),

{% if is_incremental() %}
    previous as (
        select * from {{ this }}
    ),
{% endif %}

final as (
    select
        files.file_id,
        files.source_kind,
        {% if is_incremental() %}
            case
                when previous.file_id is null then null
                when previous.source_kind is distinct from files.source_kind
                    then {{ dbt.cast(dbt.string_literal(run_started_at.isoformat()), 'timestamptz') }}
                else previous.reclassified_at
            end
        {% else %}
            null::timestamptz
        {% endif %} as reclassified_at,
        files.file_name,
        files.file_status,
        files.landed_at,
        files.uploaded_by,
        files.layout,
        files.source_department,
        files.date_order,
        files.decimal_separator
    from files
    {% if is_incremental() %}
        left join previous
            on files.file_id = previous.file_id
    {% endif %}
)

select * from final
