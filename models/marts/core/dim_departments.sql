with

departments as (
    select * from {{ ref('departments') }}
),

final as (
    select
        department_slug as department,
        department_name,
        description as department_description,
        main_kpi_code
    from departments
)

select * from final
