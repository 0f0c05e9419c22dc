{#
    The cells of every landed row of one source kind, by column name rather than position:
    header_aliases (a seed) says which header of which file holds which column, so a file with
    renamed, reordered or extra columns needs a seed row, not a code change. Yields one
    `<column>_text` column per requested name (null when the file lacks that column), plus the
    row's file, sheet, row number and the parsing conventions of its source kind.
#}
{% macro extract_cells(source_kind, column_names) -%}
    select
        records.file_id,
        records.sheet_name,
        records.row_number,
        files.file_name,
        files.landed_at,
        files.uploaded_by,
        files.date_order,
        files.decimal_separator,
        {%- for column_name in column_names %}
        records.cells[positions.{{ column_name }}_position] as {{ column_name }}_text
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('stg_raw__records') }} as records
    inner join {{ ref('int_files_classified') }} as files
        on records.file_id = files.file_id
    inner join (
        select
            file_id,
            sheet_name,
            {%- for column_name in column_names %}
            max(column_position) filter (
                where column_name = '{{ column_name }}'
            ) as {{ column_name }}_position
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ ref('int_sheet_columns_mapped') }}
        where source_kind = '{{ source_kind }}'
        group by file_id, sheet_name
    ) as positions
        on records.file_id = positions.file_id
        and records.sheet_name = positions.sheet_name
    where files.source_kind = '{{ source_kind }}' and files.file_status = 'landed'
{%- endmacro %}
