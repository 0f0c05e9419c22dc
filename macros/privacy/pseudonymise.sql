{#
    A stable keyed pseudonym (HMAC-SHA256, 32 hex characters) of a value, computed by the
    database function privacy.pseudonymise: the key stays in the database's private schema and
    never appears in compiled SQL, in target/ or in logs. The value is normalised first (trimmed,
    lower-cased) so that `Zoé@Example.org ` and `zoé@example.org` get the same pseudonym.
#}
{% macro pseudonymise(value) -%}
    privacy.pseudonymise({{ normalise_key(value) }})
{%- endmacro %}
