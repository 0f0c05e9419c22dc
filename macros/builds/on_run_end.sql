{#
    The project's on-run-end hook, one node: log how the build ended (record_build_end), then
    ANALYZE the tables it left without statistics (analyze_new_tables).
#}
{% macro on_run_end(results) -%}
    {%- set statements = [record_build_end(results), analyze_new_tables()] | map('trim') | select | list -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
