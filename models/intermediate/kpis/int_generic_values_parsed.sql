{{
    config(
        materialized='table',
        indexes=[{'columns': ['file_id']}],
    )
}}

{#
    Every landed value of the sources declared by seed lines alone (layout `long` or `wide` in
    source_kinds), typed: one candidate KPI value per cell that holds one, or the reason it
    cannot be one (rejection_reason). No model per source: the headers say which column is
    which (int_sheet_columns_mapped).

    * long: one row per value; the KPI is named in a column (by its code or its name in
      kpi_definitions), the value in another;
    * wide: one row per date and dimensions, one column per KPI (kpi_columns).

    A file without a department column belongs to its source's department (source_kinds); a
    department it does names must be one of department_aliases, or the value is rejected.

    A table, rebuilt on every build, so a changed seed (a new KPI, alias or source) applies to
    every file already landed. Sources large enough for that to cost deserve a model of their
    own, incremental (int_sales_values_parsed). The files and their sources' conventions come
    from int_files_reclassified, which also says when a file's source was declared after it
    landed: its values are dated from that build, so the incremental marts take them.
#}
with

files as (
    select * from {{ ref('int_files_reclassified') }}
    where layout in ('long', 'wide') and file_status = 'landed'
),

columns_mapped as (
    select * from {{ ref('int_sheet_columns_mapped') }}
),

department_aliases as (
    select * from {{ ref('department_aliases') }}
),

category_aliases as (
    select * from {{ ref('category_aliases') }}
),

kpi_definitions as (
    select * from {{ ref('kpi_definitions') }}
),

sheets_described as (
    select
        columns_mapped.file_id,
        columns_mapped.sheet_name,
        {%- for column_name in [
            'measured_on', 'kpi_code', 'value', 'department', 'category', 'subcategory', 'unit'
        ] %}
            max(columns_mapped.column_position) filter (
                where columns_mapped.column_name = '{{ column_name }}'
            ) as {{ column_name }}_position
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from columns_mapped
    inner join files
        on columns_mapped.file_id = files.file_id
    group by columns_mapped.file_id, columns_mapped.sheet_name
),

value_columns as (
    {# Where a row's values are: in a long sheet, its value column (the KPI in another
       column); in a wide sheet, each KPI column, the KPI its header names. #}
    select
        sheets_described.file_id,
        sheets_described.sheet_name,
        sheets_described.value_position,
        null::text as column_kpi_code,
        'value' as value_header
    from sheets_described
    inner join files
        on sheets_described.file_id = files.file_id
    where files.layout = 'long'
    union all
    select
        columns_mapped.file_id,
        columns_mapped.sheet_name,
        columns_mapped.column_position as value_position,
        columns_mapped.kpi_code as column_kpi_code,
        columns_mapped.header as value_header
    from columns_mapped
    inner join files
        on columns_mapped.file_id = files.file_id
    where files.layout = 'wide' and columns_mapped.kpi_code is not null
),

cells_extracted as (
    {# Sheet by sheet (lateral; `offset 0` is a fence that keeps PostgreSQL from flattening
       it, not a page): PostgreSQL reads only these files' partitions of raw.records. #}
    select
        sheets_described.file_id,
        sheets_described.sheet_name,
        records.row_number,
        files.file_name,
        greatest(files.landed_at, files.reclassified_at) as landed_at,
        files.uploaded_by,
        files.source_kind,
        files.layout,
        files.date_order,
        files.decimal_separator,
        files.source_department,
        value_columns.column_kpi_code,
        value_columns.value_header,
        value_columns.value_position,
        records.cells[sheets_described.measured_on_position] as measured_on_text,
        records.cells[sheets_described.kpi_code_position] as kpi_code_text,
        records.cells[value_columns.value_position] as value_text,
        sheets_described.department_position is not null as has_department_column,
        records.cells[sheets_described.department_position] as department_text,
        records.cells[sheets_described.category_position] as category_text,
        records.cells[sheets_described.subcategory_position] as subcategory_text,
        records.cells[sheets_described.unit_position] as unit_text
    from sheets_described
    inner join files
        on sheets_described.file_id = files.file_id
    inner join value_columns
        on
            sheets_described.file_id = value_columns.file_id
            and sheets_described.sheet_name = value_columns.sheet_name
    cross join lateral (
        select
            sheet_records.row_number,
            sheet_records.cells
        from {{ ref('stg_raw__records') }} as sheet_records
        where
            sheet_records.file_id = sheets_described.file_id
            and sheet_records.sheet_name = sheets_described.sheet_name
        offset 0  -- noqa: AM09
    ) as records
),

cells_parsed as materialized (
    select
        *,
        {{ parse_date('measured_on_text', 'date_order') }} as measured_on,
        {{ parse_number('value_text', 'decimal_separator') }} as parsed_value,
        {{ normalise_key('department_text') }} as department_key,
        {{ normalise_key('category_text') }} as category_key,
        {{ normalise_text('subcategory_text') }} as subcategory,
        coalesce(column_kpi_code, {{ normalise_key('kpi_code_text') }}) as kpi_key,
        {{ normalise_text('unit_text') }} as unit
    from cells_extracted
),

cells_mapped as (
    select
        cells_parsed.*,
        case
            when cells_parsed.has_department_column then department_aliases.department_slug
            else cells_parsed.source_department
        end as department,
        coalesce(category_aliases.category, initcap(cells_parsed.category_key)) as category,
        coalesce(kpis_by_code.kpi_code, kpis_by_name.kpi_code) as kpi_code,
        coalesce(kpis_by_code.missing_value_policy, kpis_by_name.missing_value_policy)
            as missing_value_policy
    from cells_parsed
    left join department_aliases
        on cells_parsed.department_key = department_aliases.alias
    left join category_aliases
        on
            cells_parsed.category_key = category_aliases.alias
            and cells_parsed.source_kind = category_aliases.source_kind
    left join kpi_definitions as kpis_by_code
        on
            cells_parsed.kpi_key = kpis_by_code.kpi_code
            and cells_parsed.source_kind = kpis_by_code.source_kind
    left join kpi_definitions as kpis_by_name
        on
            cells_parsed.kpi_key = lower(kpis_by_name.kpi_name)
            and cells_parsed.source_kind = kpis_by_name.source_kind
),

final as (
    select
        file_id,
        sheet_name,
        row_number,
        file_name,
        landed_at,
        uploaded_by,
        source_kind,
        measured_on,
        kpi_code,
        department,
        category,
        subcategory,
        unit,
        value_position,
        md5(concat_ws(
            '|', source_kind, measured_on, kpi_code, department, category, subcategory
        )) as kpi_value_id,
        {# The row's own key: a wide row holds several KPIs' values. #}
        md5(concat_ws(
            '|', source_kind, measured_on,
            case when layout = 'long' then kpi_code end,
            department, category, subcategory
        )) as row_key,
        {{ kpi_value_verdict(
            known_kpi='kpi_code', kpi_text='kpi_key', value_column='value_header'
        ) }}
    from cells_mapped
)

select * from final
