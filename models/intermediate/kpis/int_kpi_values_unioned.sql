{#
    Every candidate KPI value from every source, in one shape, before last-write-wins.
    kpi_value_id is the business key: source kind, day, KPI, department, category, subcategory.
#}
{#- (name, model, its source kind: a literal, or the model's own column for the generic
    sources, which are many) #}
{%- set candidates = [
    ('sales_fr', 'int_sales_values_parsed', "'sales_fr'", 'rejection_reason is null'),
    ('hr_headcount', 'int_headcount_kpis_aggregated', "'hr_headcount'", 'true'),
    ('support_tickets', 'int_ticket_kpis_aggregated', "'support_tickets'", 'true'),
    ('generic', 'int_generic_values_parsed', 'source_kind', 'rejection_reason is null'),
] %}

with

{% for name, model, source_kind, condition in candidates %}
    {{ name }}_values as (
        select
            {{ source_kind }} as source_kind,
            measured_on,
            kpi_code,
            kpi_value,
            department,
            category,
            subcategory,
            file_id,
            file_name,
            uploaded_by,
            row_number,
            landed_at
        from {{ ref(model) }}
        where {{ condition }}
    ),
{% endfor %}

values_unioned as (
    {%- for name, _, _, _ in candidates %}
        select * from {{ name }}_values
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        md5(concat_ws(
            '|', source_kind, measured_on, kpi_code, department, category, subcategory
        )) as kpi_value_id,
        *
    from values_unioned
)

select * from final
