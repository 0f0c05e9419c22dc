-- The private schema: the keys (as HMAC pads, never the key itself) and the keyed hash that
-- security-definer functions compute with them. Nobody else may read it.
create schema if not exists private;
revoke all on schema private from public;

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
