"""The landing schema, created on first use: `raw` (files, sheets, records) and `audit`.

Idempotent: every statement is `if not exists` or `or replace`, the whole migration runs in one
transaction under an advisory lock, so concurrent first runs are safe. It needs a role that may
create schemas and roles (the administrator); the landing itself then runs as `rempart_loader`,
which can insert rows and append audit events but cannot update or delete them.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

LOADER_ROLE = "rempart_loader"
MIGRATION_LOCK = 7_265_001  # arbitrary advisory-lock key reserved for schema migrations

SCHEMA_SQL = """
create schema if not exists raw;
create schema if not exists audit;
create schema if not exists private;
revoke all on schema private from public;

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
create unique index if not exists files_landed_sha256_key
    on raw.files (sha256) where status = 'landed';
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

create table if not exists private.keys (
    key_name text primary key,
    inner_pad bytea not null,
    outer_pad bytea not null,
    fingerprint text not null
);

-- HMAC-SHA256 with PostgreSQL's built-in sha256(): H((K xor opad) || H((K xor ipad) || m)),
-- the pads precomputed from the key, which therefore never appears in any query text.
create or replace function private.hmac_sha256(p_key_name text, p_message text)
returns text
language sql
stable
strict
set search_path = pg_catalog
as $$
    select encode(
        sha256(keys.outer_pad || sha256(keys.inner_pad || convert_to(p_message, 'UTF8'))),
        'hex'
    )
    from private.keys as keys
    where keys.key_name = p_key_name
$$;
revoke all on function private.hmac_sha256(text, text) from public;

create table if not exists audit.events (
    event_id bigint primary key,
    occurred_at timestamptz not null,
    actor text not null,
    action text not null,
    file_id bigint,
    file_name text,
    sha256 text,
    row_count bigint,
    details jsonb not null default '{}',
    previous_hash text,
    event_hash text not null
);
comment on table audit.events is
    'Append-only audit trail; event_hash = HMAC(audit key, canonical event || previous_hash).';
create sequence if not exists audit.events_event_id_seq owned by audit.events.event_id;

create or replace function audit.canonical_message(event audit.events)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
    select concat_ws(
        '|',
        event.event_id::text,
        to_char(event.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        event.actor,
        event.action,
        coalesce(event.file_id::text, ''),
        coalesce(event.file_name, ''),
        coalesce(event.sha256, ''),
        coalesce(event.row_count::text, ''),
        event.details::text,
        coalesce(event.previous_hash, '')
    )
$$;

create or replace function audit.append_event(
    p_action text,
    p_actor text,
    p_file_id bigint default null,
    p_file_name text default null,
    p_sha256 text default null,
    p_row_count bigint default null,
    p_details jsonb default '{}'
)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    new_event audit.events;
begin
    -- One writer at a time extends the chain; held until the caller's transaction ends.
    perform pg_advisory_xact_lock(7265002);
    new_event.event_id := nextval('audit.events_event_id_seq');
    new_event.occurred_at := clock_timestamp();
    new_event.actor := p_actor;
    new_event.action := p_action;
    new_event.file_id := p_file_id;
    new_event.file_name := p_file_name;
    new_event.sha256 := p_sha256;
    new_event.row_count := p_row_count;
    new_event.details := coalesce(p_details, '{}')
        || jsonb_build_object('database_role', session_user::text);
    select events.event_hash into new_event.previous_hash
    from audit.events as events
    order by events.event_id desc
    limit 1;
    new_event.event_hash := private.hmac_sha256(
        'audit', audit.canonical_message(new_event)
    );
    if new_event.event_hash is null then
        raise exception 'the audit key is not installed: run the migration as administrator';
    end if;
    insert into audit.events values (new_event.*);
    return new_event.event_id;
end
$$;
revoke all on function audit.append_event(text, text, bigint, text, text, bigint, jsonb)
    from public;
"""


def key_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner and outer pads of a key (RFC 2104)."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\x00")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def key_fingerprint(key: bytes) -> str:
    """A public identifier of a key: tells two keys apart without revealing either."""
    return hashlib.sha256(b"rempart-key-fingerprint:" + key).hexdigest()[:16]


class KeyMismatchError(RuntimeError):
    """The database was sealed with another key than the one in the secrets store."""


def install_key(conn: psycopg.Connection, name: str, key: bytes) -> None:
    inner, outer = key_pads(key)
    fingerprint = key_fingerprint(key)
    conn.execute(
        "insert into private.keys (key_name, inner_pad, outer_pad, fingerprint) "
        "values (%s, %s, %s, %s) on conflict (key_name) do nothing",
        (name, inner, outer, fingerprint),
    )
    stored = conn.execute(
        "select fingerprint from private.keys where key_name = %s", (name,)
    ).fetchone()
    if stored is None or stored[0] != fingerprint:
        raise KeyMismatchError(
            f"the {name} key in the secrets store (fingerprint {fingerprint}) is not the one "
            f"this database was set up with (fingerprint {stored[0] if stored else '?'}): "
            "restore the original key file"
        )


def ensure_login_role(conn: psycopg.Connection, role: str, password: str) -> None:
    """Create or update a login role; only a SCRAM verifier of its password reaches the server."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    verb = "alter" if exists else "create"
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL(
            verb + " role {} with login nosuperuser nocreatedb nocreaterole password {}"
        ).format(sql.Identifier(role), sql.Literal(verifier.decode()))
    )


def grant_loader(conn: psycopg.Connection, role: str = LOADER_ROLE) -> None:
    """The loader may land rows and append audit events: nothing else."""
    statements = [
        "grant usage on schema raw, audit to {role}",
        "grant select, insert on raw.files, raw.sheets, raw.records to {role}",
        "grant update (status, row_count, error, landed_at, archive_path) on raw.files to {role}",
        "grant execute on function raw.create_file_partition(bigint), "
        "raw.attach_file_partition(bigint) to {role}",
        "grant execute on function audit.append_event"
        "(text, text, bigint, text, text, bigint, jsonb) to {role}",
        "grant temporary on database {database} to {role}",
    ]
    database = conn.info.dbname
    for statement in statements:
        conn.execute(
            sql.SQL(statement).format(role=sql.Identifier(role), database=sql.Identifier(database))
        )


def migrate(
    conn: psycopg.Connection, *, audit_key: bytes, loader_password: str | None = None
) -> None:
    """Create or update the landing schema, install the audit key, provision the loader role."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(SCHEMA_SQL)
        install_key(conn, "audit", audit_key)
        if loader_password is not None:
            ensure_login_role(conn, LOADER_ROLE, loader_password)
            grant_loader(conn)
