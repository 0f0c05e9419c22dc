{#
    The table that logs each `dbt build`: when it started, the newest landing it could see,
    and whether it was a complete build that passed. Not a model: the hooks write it before and
    after the models run. It lives in the intermediate schema, which Superset never reads.
#}
{% macro build_runs_relation() -%}
    {{ return(api.Relation.create(
        database=target.database,
        schema=generate_schema_name('intermediate', none),
        identifier='dbt_build_runs',
    )) }}
{%- endmacro %}
