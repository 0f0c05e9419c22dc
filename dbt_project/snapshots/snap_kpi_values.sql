{#
    Every version of every KPI value: when a later file changes a value, the old version is
    closed (dbt_valid_to) and the new one opened, with the file, its landing time and who
    uploaded it. Reads only the values that changed since the last snapshot, so its cost follows
    the new files, not the history.
#}
{% snapshot snap_kpi_values %}

    {{
        config(
            unique_key='kpi_value_id',
            strategy='timestamp',
            updated_at='source_landed_at_utc',
        )
    }}

    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}

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
    {%- if existing is not none %}
        where (source_landed_at at time zone 'UTC') > (select max(dbt_valid_from) from {{ this }})
    {%- endif %}

{% endsnapshot %}
