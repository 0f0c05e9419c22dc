{#
    on-run-start: logs a `dbt build` with the newest landing time of any file it can see
    (`landed_at` or, for files that did not land, the registry time `_landed_at`). If the build
    passes, every row landed up to that time has been tested (see tested_through).
#}
{% macro record_build_start() -%}
    {%- if flags.WHICH != 'build' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set runs = build_runs_relation() -%}
    create schema if not exists {{ runs.schema }};
    create table if not exists {{ runs }} (
        invocation_id text primary key,
        started_at timestamptz not null default clock_timestamp(),
        finished_at timestamptz,
        tested_through timestamptz,
        is_complete boolean not null,
        tested_every_row boolean not null,
        passed boolean not null default false
    );
    insert into {{ runs }} (invocation_id, tested_through, is_complete, tested_every_row)
    select
        '{{ invocation_id }}',
        max(greatest(landed_at, _landed_at)),
        {{ is_complete_build() }},
        {{ not scoped_tests_enabled() }}
    from {{ source('raw', 'files') }}
{%- endmacro %}
