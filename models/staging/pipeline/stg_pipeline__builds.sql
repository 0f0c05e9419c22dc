{#
    The pipeline's log of builds (flows/warehouse/publish.py writes it after each build), one
    row per build. The log only exists once a first build has been published or has failed:
    on a fresh database this model is empty, with the same columns, and the next complete
    build reads the log.
#}
{%- set pipeline_builds_source = source('pipeline', 'pipeline_builds') %}
{%- set pipeline_builds_log = load_relation(pipeline_builds_source) if execute else none %}

with

pipeline_builds as (
    {%- if pipeline_builds_log is not none %}
        select * from {{ pipeline_builds_source }}
    {%- else %}
        select
            null::text as build_id,
            null::timestamptz as finished_at,
            null::boolean as passed,
            null::boolean as published,
            null::text[] as failures,
            null::text as project_hash
        where false
    {%- endif %}
),

final as (
    select
        build_id,
        finished_at,
        passed,
        published,
        failures,
        project_hash
    from pipeline_builds
)

select * from final
