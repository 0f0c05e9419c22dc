{#
    Fails for each value of `column_name` that is null or appears more than once: a primary
    key's `unique` and `not_null` in one test, so one query (and one node of the build) per key.
#}
{% test primary_key(model, column_name) %}
    select
        {{ column_name }},
        count(*) as occurrences
    from {{ model }}
    group by {{ column_name }}
    having count(*) > 1 or {{ column_name }} is null
{% endtest %}
