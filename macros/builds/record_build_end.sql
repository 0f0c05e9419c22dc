{#
    on-run-end: marks the build as passed when it was a complete `dbt build` (no selection)
    whose every seed, model, snapshot and test succeeded. Only such a build moves the point up
    to which incremental builds consider rows tested; a failed one leaves it, so its rows are
    tested again by the next build.
#}
{% macro record_build_end(results) -%}
    {%- if flags.WHICH != 'build' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error', 'partial success']) | list -%}
    update {{ build_runs_relation() }}
    set
        finished_at = clock_timestamp(),
        passed = {{ (results | length > 0 and failed | length == 0 and is_complete_build()) | string | lower }}
    where invocation_id = '{{ invocation_id }}'
{%- endmacro %}
