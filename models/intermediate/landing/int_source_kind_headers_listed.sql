{#
    Every header each source kind understands, and the column it holds: the source's own
    header_aliases first; for the generic layouts (long, wide) also the headers every such
    source knows (generic_header_aliases) that the source does not redefine; for wide sources,
    each KPI column (kpi_columns), which holds the values of one KPI (kpi_code).
#}
with

source_kinds as (
    select * from {{ ref('source_kinds') }}
),

header_aliases as (
    select * from {{ ref('header_aliases') }}
),

generic_header_aliases as (
    select * from {{ ref('generic_header_aliases') }}
),

kpi_columns as (
    select * from {{ ref('kpi_columns') }}
),

own_headers as (
    select
        source_kind,
        lower(header) as header_key,
        column_name,
        null::text as kpi_code
    from header_aliases
),

generic_headers as (
    select
        source_kinds.source_kind,
        lower(generic_header_aliases.header) as header_key,
        generic_header_aliases.column_name,
        null::text as kpi_code
    from source_kinds
    cross join generic_header_aliases
    where source_kinds.layout in ('long', 'wide')
),

kpi_headers as (
    select
        kpi_columns.source_kind,
        lower(kpi_columns.header) as header_key,
        'kpi_value' as column_name,
        kpi_columns.kpi_code
    from kpi_columns
    inner join source_kinds
        on kpi_columns.source_kind = source_kinds.source_kind
    where source_kinds.layout = 'wide'
),

headers_ranked as (
    select
        *,
        row_number() over (partition by source_kind, header_key order by precedence) as header_rank
    from (
        select
            *,
            1 as precedence
        from own_headers
        union all
        select
            *,
            2 as precedence
        from kpi_headers
        union all
        select
            *,
            3 as precedence
        from generic_headers
    ) as all_headers
),

final as (
    select
        source_kind,
        header_key,
        column_name,
        kpi_code
    from headers_ranked
    where header_rank = 1
)

select * from final
