"""The landing schema, created on first use: `raw` (files, sheets, records) and `audit`.

Idempotent: every statement is `if not exists` or `or replace`, the whole migration runs in one
transaction under an advisory lock, so concurrent first runs are safe. It needs a role that may
create schemas and roles (the administrator); the landing itself then runs as `rempart_loader`,
which can insert rows and append audit events but cannot update or delete them.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import psycopg
from psycopg import sql

LOADER_ROLE = "rempart_loader"
MIGRATION_LOCK = 7_265_001  # arbitrary advisory-lock key reserved for schema migrations

# The statements live in loaders/sql/ (shipped in the wheel, linted by sqlfluff), run in this
# order: the landing tables, the keys and their keyed hash, the audit trail signed with it.
SCHEMA_FILES = ("raw.sql", "private.sql", "audit.sql")
LOADER_GRANTS_FILE = "loader_grants.sql"


def sql_file(name: str) -> str:
    """The text of one of the package's SQL files (loaders/sql/<name>)."""
    return resources.files("loaders.sql").joinpath(name).read_text(encoding="utf-8")


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
    grants = sql.SQL(sql_file(LOADER_GRANTS_FILE)).format(
        role=sql.Identifier(role), database=sql.Identifier(conn.info.dbname)
    )
    conn.execute(grants)


def migrate(
    conn: psycopg.Connection, *, audit_key: bytes, loader_password: str | None = None
) -> None:
    """Create or update the landing schema, install the audit key, provision the loader role."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        for name in SCHEMA_FILES:
            conn.execute(sql_file(name))
        install_key(conn, "audit", audit_key)
        if loader_password is not None:
            ensure_login_role(conn, LOADER_ROLE, loader_password)
            grant_loader(conn)
