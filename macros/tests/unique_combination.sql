{#
    Fails for each combination of `columns` that appears more than once: the composite
    primary-key test (dbt has no built-in one and dbt_utils cannot be installed here).
#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
