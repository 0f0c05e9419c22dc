{#
    Every build of the pipeline: whether it passed, whether it reached the dashboards, and the
    failing models and tests that held its rows back. The contracted mart the data-quality
    dashboard reads, rather than the pipeline's log itself (a source: its shape is the
    publication step's, not a promise to readers).
#}
with

pipeline_builds as (
    select * from {{ ref('stg_pipeline__builds') }}
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
