-- The audit trail: audit.events, append-only, each event chained to the previous one by an
-- HMAC under the audit key (private.sql). Writers append through audit.append_event.
create schema if not exists audit;

create table if not exists audit.events (
    event_id bigint primary key,
    occurred_at timestamptz not null,
    actor text not null,
    -- A keyword as a column name (RF04), kept: renaming it would alter a deployed table.
    action text not null,  -- noqa: RF04
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
