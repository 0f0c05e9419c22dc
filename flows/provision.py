"""Database set-up done as administrator: landing schema, roles, keys. Idempotent and quick.

Every command that touches the database calls `prepare_database` first, so a fresh server (or
a fresh external database) is ready without a separate set-up step.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from flows.database import connection_info, role_password
from flows.secrets import SecretStore
from flows.settings import Settings
from loaders.schema import LOADER_ROLE, MIGRATION_LOCK, ensure_login_role, install_key, migrate

TRANSFORMER_ROLE = "rempart_transformer"

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
"""

TRANSFORMER_GRANTS = [
    "grant usage on schema raw, privacy, audit to {role}",
    "grant select on raw.files, raw.sheets, raw.records, raw.records_as_json to {role}",
    "grant execute on function privacy.pseudonymise(text) to {role}",
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


def prepare_database(settings: Settings) -> None:
    """Landing schema, audit trail, keys and the loader and transformer roles, as admin."""
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
