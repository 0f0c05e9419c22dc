{#
    The cells of every landed row of one source kind, by column name rather than position:
    header_aliases (a seed) says which header of which file holds which column, so a file with
    renamed, reordered or extra columns needs a seed row, not a code change. Yields one
    `<column>_text` column per requested name (null when the file lacks that column), plus the
    row's file, sheet, row number and the parsing conventions of its source kind.

    The rows are read sheet by sheet from one small relation (one row per sheet, with its
    file's facts): a lateral subquery per sheet, which PostgreSQL cannot flatten into a hash
    join (`offset 0`), so it prunes raw.records to that sheet's file partition at run time and
    reads only the files of this source kind (and, with a filter on `sheets`, only new files),
    never the partitions of the other sources.
#}
{% macro extract_cells(source_kind, column_names) -%}
    select
        records.file_id,
        records.sheet_name,
        records.row_number,
        sheets.file_name,
        sheets.landed_at,
        sheets.uploaded_by,
        sheets.date_order,
        sheets.decimal_separator,
        {%- for column_name in column_names %}
            records.cells[sheets.{{ column_name }}_position] as {{ column_name }}_text
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select
            columns_mapped.file_id,
            columns_mapped.sheet_name,
            max(files.file_name) as file_name,
            max(files.landed_at) as landed_at,
            max(files.uploaded_by) as uploaded_by,
            max(files.date_order) as date_order,
            max(files.decimal_separator) as decimal_separator,
            {%- for column_name in column_names %}
                max(columns_mapped.column_position) filter (
                    where columns_mapped.column_name = '{{ column_name }}'
                ) as {{ column_name }}_position
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ ref('int_sheet_columns_mapped') }} as columns_mapped
        inner join {{ ref('int_files_classified') }} as files
            on columns_mapped.file_id = files.file_id
        where
            files.source_kind = '{{ source_kind }}'
            and files.file_status = 'landed'
        group by columns_mapped.file_id, columns_mapped.sheet_name
    ) as sheets
    cross join lateral (
        select
            sheet_records.file_id,
            sheet_records.sheet_name,
            sheet_records.row_number,
            sheet_records.cells
        from {{ ref('stg_raw__records') }} as sheet_records
        where
            sheet_records.file_id = sheets.file_id
            and sheet_records.sheet_name = sheets.sheet_name
        offset 0
    ) as records
{%- endmacro %}
