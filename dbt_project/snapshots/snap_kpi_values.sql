{#
    Every version of every KPI value: when a later file changes a value, the old version is
    closed (dbt_valid_to) and the new one opened, with the file, its landing time and who
    uploaded it. Reads only the values that changed since the last snapshot (through the fact
    table's index on source_landed_at), and finds their open versions through the indexes
    below (see macros/snapshots/), so its cost follows the new files, not the history.

    The pre-hook tells the planner, for this snapshot's transaction only, that random reads
    cost little (its indexes are small and cached): otherwise it reads every open version
    (a million) to hash-join the few thousand changed ones.
#}
{% snapshot snap_kpi_values %}

    {{
        config(
            unique_key='kpi_value_id',
            strategy='timestamp',
            updated_at='source_landed_at_utc',
            pre_hook="set local random_page_cost = 1.1",
            post_hook=[
                "{{ create_index_if_missing(this, ['kpi_value_id'], 'dbt_valid_to is null', 'current') }}",
                "{{ create_index_if_missing(this, ['dbt_scd_id'], 'dbt_valid_to is null', 'current') }}",
                "{{ create_index_if_missing(this, ['dbt_valid_from']) }}",
            ],
        )
    }}

    {#- The latest version already recorded, as a literal: the planner then sees how few
        values are newer and reads them, and their open versions, through the indexes. #}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}
    {%- set recorded_through = none %}
    {%- if existing is not none and execute %}
        {%- set query %}select max(dbt_valid_from)::text from {{ this }}{% endset %}
        {%- set recorded_through = run_query(query).columns[0].values()[0] %}
    {%- endif %}

    select
        kpi_value_id,
        measured_on,
        kpi_code,
        department,
        category,
        subcategory,
        kpi_value,
        source_file_id,
        source_file_name,
        source_row_number,
        source_uploaded_by,
        source_landed_at,
        {# Snapshot bookkeeping columns are timestamps without zone: compare like with like. #}
        (source_landed_at at time zone 'UTC') as source_landed_at_utc
    from {{ ref('fct_kpi_values') }}
    {%- if recorded_through is not none %}
        where source_landed_at > ('{{ recorded_through }}'::timestamp at time zone 'UTC')
    {%- endif %}

{% endsnapshot %}
