-- The landing schema: raw.files (the registry of received files), raw.sheets (headers),
-- raw.records (every data row verbatim, one partition per landed file) and the functions that
-- create and attach those partitions for the loader. Idempotent: run by every migration.
create schema if not exists raw;

create table if not exists raw.files (
    file_id bigint generated always as identity primary key,
    file_name text not null,
    file_type text not null,
    size_bytes bigint not null,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    status text not null check (status in ('landed', 'duplicate', 'failed')),
    row_count bigint,
    error text,
    duplicate_of bigint references raw.files (file_id),
    received_at timestamptz not null,
    landed_at timestamptz,
    uploaded_by text not null,
    archive_path text,
    _landed_at timestamptz not null default now()
);
comment on table raw.files is
'One row per file received: landed, duplicate of a landed file, or failed (with its error).';
create unique index if not exists files_landed_sha256_key on raw.files (sha256)
where status = 'landed';
-- Set by `rempart retention apply` when the file's rows and copies are removed; the
-- registry row stays, so a file sent again is still known (a duplicate of an expired file).
-- Added only where missing: ALTER TABLE would lock the registry against running landings.
do $$
begin
    if not exists (
        select 1 from pg_attribute
        where attrelid = 'raw.files'::regclass and attname = 'expired_at' and not attisdropped
    ) then
        alter table raw.files add column expired_at timestamptz;
    end if;
end
$$;

create table if not exists raw.sheets (
    file_id bigint not null references raw.files (file_id),
    sheet text not null,
    headers text[] not null,
    row_count bigint not null,
    primary key (file_id, sheet)
);
comment on table raw.sheets is
'Header row of each sheet of each landed file; a file without sheets has one, named ''''.';

create table if not exists raw.records (
    file_id bigint not null,
    sheet text not null,
    row_number integer not null,
    cells text[] not null,
    _landed_at timestamptz not null default now()
) partition by list (file_id);
comment on table raw.records is
'Every data row as received: cells[i] is the verbatim text under raw.sheets.headers[i]. '
'One partition per landed file.';

-- Each landed file gets its own partition, created empty in the landing transaction and
-- attached just before commit: PostgreSQL need not write the rows to the WAL twice
-- (wal_level=minimal) and holds only a brief lock on raw.records. The loader owns nothing:
-- these two functions do the DDL on its behalf, for a file it has just registered.
create or replace function raw.create_file_partition(p_file_id bigint)
returns text
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    partition_name text := format('records_%s', p_file_id);
begin
    if not exists (
        select 1 from raw.files
        where file_id = p_file_id and status = 'landed' and landed_at is null
    ) then
        raise exception 'file % is not being landed', p_file_id;
    end if;
    execute format(
        'create table raw.%I (like raw.records including defaults, '
        'constraint %I check (file_id = %s))',
        partition_name, partition_name || '_file_id_check', p_file_id
    );
    execute format('grant insert on raw.%I to %I', partition_name, session_user);
    return format('raw.%I', partition_name);
end
$$;
revoke all on function raw.create_file_partition(bigint) from public;

create or replace function raw.attach_file_partition(p_file_id bigint)
returns void
language plpgsql
security definer
set search_path = pg_catalog
as $$
begin
    if not exists (
        select 1 from raw.files
        where file_id = p_file_id and status = 'landed' and landed_at is null
    ) then
        raise exception 'file % is not being landed', p_file_id;
    end if;
    execute format(
        'alter table raw.records attach partition raw.%I for values in (%s)',
        format('records_%s', p_file_id), p_file_id
    );
end
$$;
revoke all on function raw.attach_file_partition(bigint) from public;

create or replace view raw.records_as_json as
select
    records.file_id,
    records.sheet,
    records.row_number,
    jsonb_object(
        sheets.headers[1:least(cardinality(sheets.headers), cardinality(records.cells))],
        records.cells[1:least(cardinality(sheets.headers), cardinality(records.cells))]
    ) as record,
    records._landed_at
from raw.records as records
inner join raw.sheets as sheets
    on records.file_id = sheets.file_id and records.sheet = sheets.sheet;
comment on view raw.records_as_json is 'raw.records with each row as a header -> text object.';
