{{ config(materialized='ephemeral') }}

{#
    The clear PII values found in landed files (employee names, IDs and e-mails, customer
    names and e-mails), for one purpose: the test assert_no_clear_pii_in_marts looks for them in
    every mart. Ephemeral: inlined into that test's query, never stored anywhere.
#}
with

employee_rows as (
    {{ extract_cells('hr_headcount', ['employee_id', 'employee_name', 'email']) }}
),

customer_rows as (
    {{ extract_cells('support_tickets', ['customer']) }}
),

customers_parsed as (
    select customer_text::jsonb as customer
    from customer_rows
    where pg_input_is_valid(customer_text, 'jsonb')
),

values_listed as (
    select employee_id_text as pii_value from employee_rows
    union
    select employee_name_text from employee_rows
    union
    select email_text from employee_rows
    union
    select customer ->> 'name' from customers_parsed
    union
    select customer ->> 'email' from customers_parsed
),

final as (
    select distinct {{ normalise_key('pii_value') }} as pii_value
    from values_listed
    where {{ normalise_text('pii_value') }} is not null
)

select * from final
