{#
    True when this invocation runs every node: no --select, --exclude, --selector or
    resource-type filter. Only a complete build can vouch for every test. (The pipeline's build
    of what new data reaches, made only when the project is unchanged since the last published
    build, is marked passed by the pipeline itself when it publishes it: flows/warehouse/publish.py.)
#}
{% macro is_complete_build() -%}
    {%- set args = invocation_args_dict -%}
    {%- set narrowed = args.get('select') or args.get('exclude') or args.get('selector')
        or args.get('resource_types') or args.get('exclude_resource_types') -%}
    {{ return(not narrowed) }}
{%- endmacro %}
