{#
    Row-level security on a mart that has a department column (declared once, in the model's
    `meta.superset.department_column`, which the Superset sync reads too). The reader roles
    (members of `var('reader_group')`) see a row only if they are the analyst role or the
    viewer role of the row's department; rows without a department are the analyst's only.
    `current_user` cannot be changed from SQL by those roles: they are members of no role
    but the group, which itself sees nothing. The table's owner, dbt, is not restricted.
#}
{% macro department_row_security() %}
    {%- set superset_meta = (model.config.get('meta') or {}).get('superset') or {} -%}
    {%- set department_column = superset_meta.get('department_column') -%}
    {%- if department_column -%}
        alter table {{ this }} enable row level security;
        drop policy if exists department_readers on {{ this }};
        create policy department_readers on {{ this }}
            for select
            to {{ adapter.quote(var('reader_group')) }}
            using (
                current_user = {{ dbt.string_literal(var('analyst_role')) }}
                or current_user = {{ dbt.string_literal(var('viewer_role_prefix')) }}
                || {{ adapter.quote(department_column) }}
            )
    {%- endif -%}
{% endmacro %}
