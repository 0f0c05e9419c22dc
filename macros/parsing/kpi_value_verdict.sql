{#
    The verdict on one candidate KPI value, the same for every source: the value (a blank cell
    follows the KPI's missing-value policy) and, when it cannot be one, why (rejection_reason),
    the column at fault and its text as the file had it. Emits four columns: kpi_value,
    rejection_reason, checked_column, checked_value.

    Reads the caller's columns measured_on, measured_on_text, department, department_key,
    parsed_value, value_text and missing_value_policy; `known_kpi` is the KPI found in
    kpi_definitions (null when unknown), `kpi_text` the KPI as the file named it, and
    `value_column` the name the value's column is reported under.
#}
{% macro kpi_value_verdict(known_kpi='known_kpi_code', kpi_text='kpi_code', value_column="'value'") -%}
    case
        when parsed_value is not null then parsed_value
        when {{ normalise_text('value_text') }} is null and missing_value_policy = 'zero' then 0
    end as kpi_value,
    case
        when measured_on is null then 'invalid_date'
        when {{ known_kpi }} is null then 'unknown_kpi'
        when department is null then 'unknown_department'
        when parsed_value is not null then null
        when {{ normalise_text('value_text') }} is not null then 'unparseable_number'
        when missing_value_policy = 'zero' then null
        else 'missing_value'
    end as rejection_reason,
    case
        when measured_on is null then 'measured_on'
        when {{ known_kpi }} is null then 'kpi_code'
        when department is null then 'department'
        else {{ value_column }}
    end as checked_column,
    case
        when measured_on is null then measured_on_text
        when {{ known_kpi }} is null then {{ kpi_text }}
        when department is null then department_key
        else value_text
    end as checked_value
{%- endmacro %}
