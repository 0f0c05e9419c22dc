{#
    Last write wins, deterministically: of the rows sharing a business key, keep the one from
    the most recently landed file; within one file, the lowest row (a later line overrides an
    earlier one). Adds `candidate_count`, how many rows claimed the key.
#}
{% macro latest_per_key(relation, key_column) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_column }}
                order by landed_at desc, file_id desc, row_number desc
            ) as recency_rank,
            count(*) over (partition by {{ key_column }}) as candidate_count
        from {{ relation }}
    ) as ranked
    where recency_rank = 1
{%- endmacro %}
