{#
    Whether this invocation's data tests may check only new rows: in a `dbt build` without
    --full-refresh, unless the var `test_all_rows` is true. `dbt test` always checks every row.
#}
{% macro scoped_tests_enabled() -%}
    {{ return(
        flags.WHICH == 'build'
        and not flags.FULL_REFRESH
        and not var('test_all_rows', false)
    ) }}
{%- endmacro %}
