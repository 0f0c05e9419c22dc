{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['landed_at']}, {'columns': ['file_id']}],
        post_hook="{{ create_index_if_missing(this, ['landed_at'], 'rejection_reason is not null', 'rejected') }}",
    )
}}

{#
    Every landed row of the French sales exports, typed: one candidate KPI value per row, or
    the reason it cannot be one (rejection_reason), so nothing is dropped unseen.

    The one large source, so parsed once: an incremental table that appends the files landed
    since the previous run (landed files never change). After changing a mapping seed
    (aliases, KPI definitions), rebuild it with `--full-refresh` to re-read old files.

    The partial index on the landing time of rejected rows lets dq_rejected_rows find the new
    rejections without reading the accepted rows, even when no row was ever rejected.
#}
with

rows_extracted as (
    {{ extract_cells('sales_fr', [
        'measured_on', 'department', 'category', 'subcategory',
        'kpi_code', 'value', 'unit', 'comment'
    ]) }}
    {% if is_incremental() %}
        where sheets.landed_at > (
            select coalesce(max(landed_at), '-infinity'::timestamptz) from {{ this }}
        )
    {% endif %}
),

department_aliases as (
    select * from {{ ref('department_aliases') }}
),

category_aliases as (
    select * from {{ ref('category_aliases') }}
    where source_kind = 'sales_fr'
),

kpi_definitions as (
    select * from {{ ref('kpi_definitions') }}
),

{# Materialized: the normalised keys are computed once per row, then matched to the
   alias seeds by plain equality (inlined, the planner would re-run them per seed row). #}
rows_parsed as materialized (
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        uploaded_by,
        measured_on_text,
        value_text,
        {{ parse_date('measured_on_text', 'date_order') }} as measured_on,
        {{ parse_number('value_text', 'decimal_separator') }} as parsed_value,
        {{ normalise_key('department_text') }} as department_key,
        {{ normalise_key('category_text') }} as category_key,
        {{ normalise_text('subcategory_text') }} as subcategory,
        {{ normalise_key('kpi_code_text') }} as kpi_code,
        {{ normalise_text('unit_text') }} as unit
    from rows_extracted
),

rows_mapped as (
    select
        rows_parsed.*,
        department_aliases.department_slug as department,
        coalesce(category_aliases.category, initcap(rows_parsed.category_key)) as category,
        kpi_definitions.kpi_code as known_kpi_code,
        kpi_definitions.missing_value_policy
    from rows_parsed
    left join department_aliases
        on rows_parsed.department_key = department_aliases.alias
    left join category_aliases
        on rows_parsed.category_key = category_aliases.alias
    left join kpi_definitions
        on
            rows_parsed.kpi_code = kpi_definitions.kpi_code
            and kpi_definitions.source_kind = 'sales_fr'
),

final as (
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        uploaded_by,
        'sales_fr' as source_kind,
        measured_on,
        kpi_code,
        department,
        category,
        subcategory,
        unit,
        md5(concat_ws(
            '|', 'sales_fr', measured_on, kpi_code, department, category, subcategory
        )) as kpi_value_id,
        {{ kpi_value_verdict() }}
    from rows_mapped
)

select * from final
