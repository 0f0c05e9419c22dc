"""Database set-up done as administrator: landing schema, roles, keys. Idempotent and quick.

Every command that touches the database calls `prepare_database` first, so a fresh server (or
a fresh external database) is ready without a separate set-up step.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from flows.names import (
    ANALYST_ROLE,
    READER_GROUP,
    SUPERSET_AUDIT_ROLE,
    TRANSFORMER_ROLE,
    VIEWER_ROLE_PREFIX,
)
from flows.runtime.database import connection_info, role_password, write_pgpass
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.seeds.departments import department_slugs
from loaders.schema import LOADER_ROLE, MIGRATION_LOCK, ensure_login_role, install_key, migrate

# Pseudonyms are keyed HMACs computed inside the database by a function that runs with its
# owner's rights: dbt calls privacy.pseudonymise(column) and never sees the key, which lives in
# the private schema as HMAC pads only.
PRIVACY_SQL = """
create schema if not exists privacy;
revoke all on schema privacy from public;
create or replace function privacy.pseudonymise(p_value text)
returns text
language sql
stable
security definer
set search_path = pg_catalog
as $$
    select left(private.hmac_sha256('pseudonymisation', p_value), 32)
$$;
revoke all on function privacy.pseudonymise(text) from public;
comment on function privacy.pseudonymise(text) is
    'Stable keyed pseudonym (HMAC-SHA256, 128 bits in hex) of a value; null stays null.';

-- What the erasure register and the audit trail hold of a person: a keyed hash of one of
-- their identifiers, normalised as the models' normalise_key() does it
-- (macros/parsing/normalise_text.sql). Under the pseudonymisation key but of another message
-- than the models' pseudonym, so it matches no pseudonymised row: a register entry says that
-- someone was erased, and cannot point at what the marts held about them.
create or replace function privacy.identifier_hash(p_value text)
returns text
language sql
stable
security definer
set search_path = pg_catalog
as $$
    select left(private.hmac_sha256(
        'pseudonymisation',
        'identifier-hash|'
        || lower(nullif(regexp_replace(trim(p_value), '[[:space:]\u00a0]+', ' ', 'g'), ''))
    ), 32)
$$;
revoke all on function privacy.identifier_hash(text) from public;

-- The erasure register (`rempart privacy erase`): who was erased, as the keyed hashes of
-- their identifiers only. dbt reads it to flag a later file that brings one of them back.
create table if not exists privacy.erasures (
    erasure_id uuid not null,
    erased_at timestamptz not null,
    identifier_kind text not null,
    identifier_hash text not null check (identifier_hash ~ '^[0-9a-f]{32}$'),
    primary key (erasure_id, identifier_kind, identifier_hash)
);
comment on table privacy.erasures is
    'One row per identifier of each person erased: its kind and keyed hash, never itself.';
"""

TRANSFORMER_GRANTS = [
    "grant usage on schema raw, privacy, audit to {role}",
    "grant select on raw.files, raw.sheets, raw.records, raw.records_as_json to {role}",
    "grant execute on function privacy.pseudonymise(text) to {role}",
    "grant execute on function privacy.identifier_hash(text) to {role}",
    "grant select on privacy.erasures to {role}",
    "grant execute on function audit.append_event"
    "(text, text, bigint, text, text, bigint, jsonb) to {role}",
    "grant create, temporary on database {database} to {role}",
]


def _provision_transformer(conn: psycopg.Connection, password: str) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(PRIVACY_SQL)
        ensure_login_role(conn, TRANSFORMER_ROLE, password)
        for statement in TRANSFORMER_GRANTS:
            conn.execute(
                sql.SQL(statement).format(
                    role=sql.Identifier(TRANSFORMER_ROLE),
                    database=sql.Identifier(conn.info.dbname),
                )
            )


def reader_roles(settings: Settings) -> list[str]:
    """Every login role Superset may connect to the warehouse as."""
    return [ANALYST_ROLE] + [
        VIEWER_ROLE_PREFIX + slug for slug in department_slugs(settings.project_dir)
    ]


def superset_passfile(settings: Settings) -> Path:
    """A pgpass file for the Superset process: its own roles only, never the admin's."""
    return settings.secrets_dir / "superset_pgpass"


def _provision_readers(conn: psycopg.Connection, settings: Settings) -> None:
    roles = reader_roles(settings)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        if not conn.execute(
            "select 1 from pg_roles where rolname = %s", (READER_GROUP,)
        ).fetchone():
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(READER_GROUP)))
        for role in roles:
            ensure_login_role(conn, role, role_password(settings, role))
            conn.execute(
                sql.SQL("grant {} to {}").format(sql.Identifier(READER_GROUP), sql.Identifier(role))
            )
        # A department removed from the seed loses its access at once.
        stale = conn.execute(
            "select rolname from pg_roles where rolname like %s and not rolname = any(%s)",
            (VIEWER_ROLE_PREFIX.replace("_", r"\_") + "%", roles),
        ).fetchall()
        for (role,) in stale:
            conn.execute(
                sql.SQL("revoke {} from {}").format(
                    sql.Identifier(READER_GROUP), sql.Identifier(role)
                )
            )
            conn.execute(sql.SQL("alter role {} nologin").format(sql.Identifier(role)))
        ensure_login_role(conn, SUPERSET_AUDIT_ROLE, role_password(settings, SUPERSET_AUDIT_ROLE))
        conn.execute(
            sql.SQL(
                "grant usage on schema audit to {role}; grant execute on function "
                "audit.append_event(text, text, bigint, text, text, bigint, jsonb) to {role}"
            ).format(role=sql.Identifier(SUPERSET_AUDIT_ROLE))
        )
    passfile = superset_passfile(settings)
    for role in [*roles, SUPERSET_AUDIT_ROLE]:
        write_pgpass(passfile, role, role_password(settings, role))


def prepare_database(settings: Settings) -> None:
    """Landing schema, audit trail, keys and the loader, transformer and reader roles, as admin."""
    secrets = SecretStore(settings.secrets_dir)
    with connection_info(settings).connect() as admin:
        migrate(
            admin,
            audit_key=secrets.get_bytes("audit_key"),
            loader_password=role_password(settings, LOADER_ROLE),
        )
        with admin.transaction():
            install_key(admin, "pseudonymisation", secrets.get_bytes("pseudonymisation_key"))
        _provision_transformer(admin, role_password(settings, TRANSFORMER_ROLE))
        _provision_readers(admin, settings)
