{#
    on-run-end: ANALYZE the tables of the dbt schemas that have no planner statistics yet
    (created by this build) or whose rows changed by more than a fifth since their last
    ANALYZE, so the next build's plans (index scans over new rows) rest on real figures rather
    than on whatever autovacuum has gathered by then.
#}
{% macro analyze_new_tables() -%}
    {%- if not execute or flags.WHICH not in ['build', 'run', 'seed', 'snapshot'] -%}
        {{ return('') }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type in ['model', 'seed', 'snapshot'] -%}
        {%- if node.schema not in schemas -%}
            {%- do schemas.append(node.schema) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set query -%}
        select format('%I.%I', stats.schemaname, stats.relname)
        from pg_stat_user_tables as stats
        inner join pg_class as tables
            on stats.relid = tables.oid
        where
            stats.schemaname in ('{{ schemas | join("', '") }}')
            and pg_has_role(current_user, tables.relowner, 'usage')
            and (
                coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                or stats.n_mod_since_analyze > 0.2 * stats.n_live_tup
            )
        order by 1
    {%- endset -%}
    {%- set stale = run_query(query).columns[0].values() -%}
    {{ return('analyze ' ~ (stale | join(', ')) if stale else '') }}
{%- endmacro %}
