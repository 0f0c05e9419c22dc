{#
    The SQL condition that keeps the rows of `node` (a model, from the graph) landed since the
    last passed complete build, when tests may be scoped (scoped_tests_enabled); none otherwise,
    and every row is tested. The model says how to tell its new rows in its meta:
    `landed_at_column` (a landing time, compared with tested_through) or `landed_file_column`
    (a file id, matched against the files landed since then, listed as literals so that
    PostgreSQL reads only their partitions of raw.records). A model that says neither is
    always tested in full.
#}
{% macro new_rows_condition(node) -%}
    {%- if node is none or not scoped_tests_enabled() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set meta = node.get('config', {}).get('meta', {}) -%}
    {%- if not (meta.get('landed_at_column') or meta.get('landed_file_column')) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = tested_through() -%}
    {%- if since is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if meta.get('landed_at_column') -%}
        {{ return(adapter.quote(meta.landed_at_column) ~ ' > ' ~ since) }}
    {%- endif -%}
    {%- set query -%}
        select file_id from {{ source('raw', 'files') }}
        where greatest(landed_at, _landed_at) > {{ since }}
        order by file_id
    {%- endset -%}
    {%- set file_ids = run_query(query).columns[0].values() -%}
    {%- if not file_ids -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return(adapter.quote(meta.landed_file_column) ~ ' in (' ~ (file_ids | join(', ')) ~ ')') }}
{%- endmacro %}
