{#
    True when this invocation vouches for every node: it runs them all (no --select, --exclude,
    --selector or resource-type filter), or it is the pipeline's build of what new data can
    change (var `rempart_build_scope: new_data`: `source:raw+`, without unit tests), which
    `rempart run` makes only when no model, macro, seed, snapshot, test or setting changed
    since the last published build, so every node it leaves out would build and pass exactly
    as it did then.
#}
{% macro is_complete_build() -%}
    {%- if var('rempart_build_scope', none) == 'new_data' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set args = invocation_args_dict -%}
    {%- set narrowed = args.get('select') or args.get('exclude') or args.get('selector')
        or args.get('resource_types') or args.get('exclude_resource_types') -%}
    {{ return(not narrowed) }}
{%- endmacro %}
