{{
    config(
        materialized='incremental',
        unique_key='kpi_value_id',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['measured_on', 'kpi_code', 'department', 'category']},
            {'columns': ['kpi_code', 'department']},
            {'columns': ['source_landed_at']},
            {'columns': ['_built_at']},
        ],
    )
}}

{#
    One row per KPI value: the latest word on each business key (day, KPI, department,
    category, subcategory). Incremental: each run reads only the files landed since the last
    one and merges them in; the file that landed last wins, and the value it replaced is kept
    beside it (previous_value, previous_source_file_id) for reviewers. Every version stays in
    the snapshot snap_kpi_values.

    Indexes: the business key (merge), which is the contract's primary key; the summary's
    group (day, KPI, department, category), which kpi_daily_summary recomputes group by group;
    the landing time, by which incremental runs, the snapshot and the data tests find the
    values merged since their last run.
#}
with

kpi_values as (
    select * from {{ ref('int_kpi_values_unioned') }}
    {% if is_incremental() %}
        where landed_at > (
            select coalesce(max(source_landed_at), '-infinity'::timestamptz) from {{ this }}
        )
    {% endif %}
),

values_ranked as (
    {#
        One pass of window functions, no self-join: the runner-up of each key is the next row
        in recency order (lead), so the winner and what it replaced come out together.
    #}
    select
        *,
        row_number() over recency as recency_rank,
        count(*) over (partition by kpi_value_id) as candidate_count,
        lead(kpi_value) over recency as runner_up_value,
        lead(file_id) over recency as runner_up_file_id
    from kpi_values
    window recency as (
        partition by kpi_value_id
        order by landed_at desc, file_id desc, row_number desc
    )
),

{% if is_incremental() %}
current_values as (
    select
        kpi_value_id,
        kpi_value,
        source_file_id,
        version_number
    from {{ this }}
    where kpi_value_id in (select kpi_value_id from kpi_values)
),
{% endif %}

final as (
    select
        winners.kpi_value_id,
        winners.measured_on,
        winners.kpi_code,
        winners.kpi_value,
        winners.department,
        winners.category,
        winners.subcategory,
        winners.source_kind,
        winners.file_id as source_file_id,
        winners.file_name as source_file_name,
        winners.row_number as source_row_number,
        winners.uploaded_by as source_uploaded_by,
        winners.landed_at as source_landed_at,
        {% if is_incremental() %}
            coalesce(current_values.kpi_value, winners.runner_up_value) as previous_value,
            coalesce(current_values.source_file_id, winners.runner_up_file_id)
                as previous_source_file_id,
            (coalesce(current_values.version_number, 0) + winners.candidate_count)::integer
                as version_number
        {% else %}
            winners.runner_up_value as previous_value,
            winners.runner_up_file_id as previous_source_file_id,
            winners.candidate_count::integer as version_number
        {% endif %}
    from values_ranked as winners
    {% if is_incremental() %}
        left join current_values
            on winners.kpi_value_id = current_values.kpi_value_id
    {% endif %}
    where winners.recency_rank = 1
)

select
    *,
    {{ build_stamp() }}
from final
