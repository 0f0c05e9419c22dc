{#
    dbt's own snapshot staging query, with one change: its `snapshotted_data` CTE (the open
    versions of every key) is NOT MATERIALIZED. Referenced twice, PostgreSQL would otherwise
    copy every open version (a million for a million keys) before joining the few changed keys
    to it; inlined, each changed key finds its open version through the partial index on
    (unique key) where dbt_valid_to is null. Same rows, same semantics: only the plan changes.
#}
{% macro postgres__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set staging_sql = dbt.default__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set inlined = 'snapshotted_data as not materialized (' -%}
    {%- if 'snapshotted_data as (' not in staging_sql -%}
        {{ exceptions.warn('snapshot_staging_table: dbt changed its staging query; snapshotted_data stays materialized') }}
    {%- endif -%}
    {{ staging_sql | replace('snapshotted_data as (', inlined) }}
{%- endmacro %}
