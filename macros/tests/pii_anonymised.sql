{#
    Fails for each value of a PII column that does not have the shape its anonymisation gives:
    `pseudonymise` (32 hex characters), `mask_email` (`x***@domain`), `generalise_month` (the
    first day of a month). A column left in clear fails.
#}
{% test pii_anonymised(model, column_name, strategy) %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and not (
            {%- if strategy == 'pseudonymise' %}
                {{ column_name }}::text ~ '^[0-9a-f]{32}$'
            {%- elif strategy == 'mask_email' %}
                {{ column_name }}::text ~ '^[^@]\*\*\*@[^@]+$'
            {%- elif strategy == 'generalise_month' %}
                extract(day from {{ column_name }}) = 1
            {%- else %}
                {{ exceptions.raise_compiler_error("unknown anonymisation strategy: " ~ strategy) }}
            {%- endif %}
        )
{% endtest %}
