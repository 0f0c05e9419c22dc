"""`rempart secrets rotate NAME`: a key or password replaced, and what it sealed re-sealed.

Each rotation first writes the new value as `<name>.next` in the secrets store, does its
work so that running it again after a crash finishes it (a file already under the new key is
recognised and skipped), then puts the new value in place and removes `.next`. Each is
audited with the fingerprints (public identifiers) of the old and new keys, never a key.

* `archive_key`: every archived file re-sealed under the new key, then the old key is
  overwritten. Backup sets made before hold archives under the old key: a new set is made
  at once.
* `audit_key`: an `audit_key_rotated` event, signed under the old key, names the new one;
  the events after it are signed under the new key. The old key is kept, retired
  (`audit_key.retired-<fingerprint>`), because `rempart audit verify` checks every epoch.
* `backup_key`: every set of every destination re-sealed under the new key (each member
  streamed, the manifest written anew), then the old key is overwritten.
* `db_<role>_password`, or `db-passwords` for all: the role's password changed in the
  database and in every pgpass file that carries it.
* `superset_secret_key`: Superset stopped, its encrypted fields and every second-factor
  secret re-sealed under the new key, then restarted; every session ends, and recovery codes
  (kept as keyed hashes only) are invalidated, the accounts named.
* `pseudonymisation_key`: only with `--full-rebuild`: every pseudonym changes, so the key is
  replaced in the database and the marts are rebuilt from raw (a full-refresh run).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from psycopg import sql

from flows.backup.backup_set import (
    MANIFEST,
    BackupError,
    create_backups,
    list_sets,
    read_manifest,
    read_member,
    seal_member,
)
from flows.privacy.erasure_register import JOURNAL
from flows.runtime.database import connection_info, write_pgpass
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.superset.errors import SupersetError
from flows.superset.server import SupersetServer
from flows.warehouse.provision import prepare_database
from loaders.archive import opens_with, produced_stream, reencrypt_file, sync_folder
from loaders.audit import append_event, continue_chain
from loaders.schema import key_fingerprint, key_pads

PENDING = ".next"
ROTATABLE = (
    "archive_key",
    "audit_key",
    "backup_key",
    "pseudonymisation_key",
    "superset_secret_key",
    "db-passwords",
    "db_<role>_password",
)


class RotationError(RuntimeError):
    """A key cannot be rotated as asked; the message says why and what to do."""


def _pending(secrets: SecretStore, name: str) -> str:
    """The new value: the one a rotation that stopped half-way had chosen, or a fresh one."""
    pending = f"{name}{PENDING}"
    if secrets.path(pending).exists():
        return secrets.get(pending)
    value = secrets.new_value(name)
    secrets.write(pending, value)
    return value


def _finish(secrets: SecretStore, name: str, value: str) -> None:
    secrets.write(name, value)
    secrets.path(f"{name}{PENDING}").unlink(missing_ok=True)


def _key(value: str) -> bytes:
    return bytes.fromhex(value)


def _audit(settings: Settings, name: str, old: bytes, new: bytes, **details: object) -> None:
    with connection_info(settings).connect() as conn, conn.transaction():
        append_event(
            conn,
            "key_rotated",
            settings.user,
            details={
                "secret": name,
                "old_key_fingerprint": key_fingerprint(old),
                "new_key_fingerprint": key_fingerprint(new),
                **details,
            },
        )


def _rotate_audit_key(settings: Settings, secrets: SecretStore, progress: Callable) -> str:
    old = secrets.get_bytes("audit_key")
    value = _pending(secrets, "audit_key")
    new = _key(value)
    with connection_info(settings).connect() as conn, conn.transaction():
        (installed,) = conn.execute(
            "select fingerprint from private.keys where key_name = 'audit'"
        ).fetchone()
        if installed != key_fingerprint(new):  # not already done by an interrupted run
            continue_chain(conn, new, settings.user, "rempart secrets rotate audit_key")
    secrets.retire("audit_key", key_fingerprint(old))
    _finish(secrets, "audit_key", value)
    return (
        f"audit_key rotated: events from now on are signed under {key_fingerprint(new)}; "
        f"the old key is kept as {secrets.path('audit_key')}.retired-{key_fingerprint(old)} "
        "so the earlier events still verify"
    )


def _rotate_archive_key(settings: Settings, secrets: SecretStore, progress: Callable) -> str:
    old = secrets.get_bytes("archive_key")
    value = _pending(secrets, "archive_key")
    new = _key(value)
    files = sorted(settings.archive_dir.rglob("*.enc")) if settings.archive_dir.is_dir() else []
    for number, path in enumerate(files, 1):
        if opens_with(path, new):
            continue  # re-sealed by a run that stopped half-way
        progress(f"archive_key: re-sealing {number}/{len(files)}: {path.name}")
        reencrypt_file(path, old, new)
    _audit(settings, "archive_key", old, new, files=len(files))
    _finish(secrets, "archive_key", value)
    progress("archive_key: a new backup, since older sets hold archives under the old key")
    made = create_backups(settings, progress=progress)[0].path.name
    return (
        f"archive_key rotated: {len(files)} archived file(s) re-sealed, the old key "
        f"overwritten; new backup {made} (older sets' archives need the old key, now gone)"
    )


def _reseal_set(path: Path, old: bytes, new: bytes) -> bool:
    """One set under the new key, replaced whole; False if it already was."""
    try:
        manifest = read_manifest(path, old)
    except BackupError:
        read_manifest(path, new)  # raises if under neither key
        return False
    partial = path.with_name(f".{path.name}.rekey")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        members = []
        for member in manifest["members"]:
            with produced_stream(lambda pipe, m=member: read_member(path, m, old, pipe)) as plain:
                members.append(seal_member(partial, member["name"], plain, new))
        manifest["members"] = members
        with produced_stream(lambda pipe: pipe.write(_manifest_bytes(manifest))) as plain:
            seal_member(partial, MANIFEST, plain, new)
        sync_folder(partial)
        replaced = path.with_name(f".{path.name}.replaced")
        os.rename(path, replaced)
        os.rename(partial, path)
        sync_folder(path.parent)
        shutil.rmtree(replaced)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return True


def _manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True).encode()


def _rotate_backup_key(settings: Settings, secrets: SecretStore, progress: Callable) -> str:
    old = secrets.get_bytes("backup_key")
    value = _pending(secrets, "backup_key")
    new = _key(value)
    resealed = 0
    for destination in settings.backup_destinations:
        for backup in list_sets(destination):
            progress(f"backup_key: re-sealing {backup.path}")
            try:
                resealed += _reseal_set(backup.path, old, new)
            except BackupError as error:
                raise RotationError(
                    f"backup_key not rotated yet: {error}; run it again once that is fixed "
                    "(the sets already re-sealed are recognised)"
                ) from error
        _reseal_erasure_journal(destination, old, new)
    _audit(settings, "backup_key", old, new, sets=resealed)
    _finish(secrets, "backup_key", value)
    return f"backup_key rotated: {resealed} set(s) re-sealed, the old key overwritten"


def _reseal_erasure_journal(destination: Path, old: bytes, new: bytes) -> None:
    journal = destination / JOURNAL
    if journal.is_file() and not opens_with(journal, new):
        reencrypt_file(journal, old, new)


def _rotate_password(settings: Settings, secrets: SecretStore, role: str) -> None:
    admin = connection_info(settings)
    # The administrator's password is the embedded server's own secret.
    name = "db_admin_password" if role == admin.user else f"db_{role}_password"
    value = _pending(secrets, name)
    if role == admin.user:
        if settings.database_url:
            raise RotationError(
                f"{role} is the account of REMPART_DATABASE_URL: change its password on that "
                "server and in its pgpass file"
            )
        with admin.connect(autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(value.encode(), role.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(role), sql.Literal(verifier.decode())
                )
            )
        _finish(secrets, name, value)
        if admin.passfile:
            write_pgpass(admin.passfile, role, value)
        return
    _finish(secrets, name, value)  # provisioning sets every role's password from the store


def _rotate_passwords(settings: Settings, secrets: SecretStore, which: str) -> str:
    with connection_info(settings).connect() as conn:
        managed = [
            name
            for (name,) in conn.execute(
                "select rolname from pg_roles where rolname like 'rempart\\_%' and rolcanlogin "
                "order by 1"
            ).fetchall()
        ]
    roles = managed if which == "db-passwords" else [which[len("db_") : -len("_password")]]
    unknown = [role for role in roles if role not in managed]
    if unknown:
        raise RotationError(f"no login role {unknown[0]} here; roles: {', '.join(managed)}")
    for role in roles:
        _rotate_password(settings, secrets, role)
    prepare_database(settings)
    with connection_info(settings).connect() as conn, conn.transaction():
        append_event(conn, "password_rotated", settings.user, details={"roles": roles})
    return (
        f"password(s) of {', '.join(roles)} rotated, in the database and the pgpass files; "
        "running services connect with them from their next connection"
    )


def _rotate_pseudonymisation_key(
    settings: Settings,
    secrets: SecretStore,
    rebuild: Callable[[Settings], int] | None,
    progress: Callable,
) -> str:
    if rebuild is None:
        raise RotationError(
            "the pseudonymisation key makes every pseudonym: a new key changes all of them, "
            "so the marts must be rebuilt from raw. Run `rempart secrets rotate "
            "pseudonymisation_key --full-rebuild` when a full rebuild may run"
        )
    with connection_info(settings).connect() as conn:
        erased = conn.execute("select count(distinct erasure_id) from privacy.erasures").fetchone()[
            0
        ]
    if erased:
        # The register knows each erased person by hashes under this key alone: under a
        # new one, nobody could tell them when a later file brought them back.
        raise RotationError(
            f"the erasure register holds {erased} erasure(s), known only by hashes under "
            "the current key: a new key would stop Rempart recognising those people when a "
            "file brings them back. pseudonymisation_key is not rotated"
        )
    old = secrets.get_bytes("pseudonymisation_key")
    value = _pending(secrets, "pseudonymisation_key")
    new = _key(value)
    inner, outer = key_pads(new)
    with connection_info(settings).connect() as conn, conn.transaction():
        conn.execute(
            "update private.keys set inner_pad = %s, outer_pad = %s, fingerprint = %s "
            "where key_name = 'pseudonymisation'",
            (inner, outer, key_fingerprint(new)),
        )
    _finish(secrets, "pseudonymisation_key", value)
    _audit(settings, "pseudonymisation_key", old, new)
    progress("pseudonymisation_key: rebuilding the marts from raw (a full-refresh run)")
    if rebuild(settings) != 0:
        raise RotationError(
            "pseudonymisation_key rotated, but the full rebuild failed (see above): run "
            "`rempart run --full-refresh` once it is fixed"
        )
    made = create_backups(settings, progress=progress)[0].path.name
    return (
        f"pseudonymisation_key rotated and every pseudonym rebuilt; new backup {made} (older "
        "sets are refused from now on: their data was sealed under the old key)"
    )


def _rotate_superset_secret_key(
    settings: Settings, secrets: SecretStore, progress: Callable
) -> str:
    server = SupersetServer(settings)
    old = secrets.get_bytes("superset_secret_key")
    value = _pending(secrets, "superset_secret_key")
    was_running = server.status().running
    if was_running:
        progress("superset_secret_key: stopping Superset while its secrets are re-sealed")
        server.stop()
    try:
        done = server.reseal_secret_key(
            secrets.path("superset_secret_key"), secrets.path(f"superset_secret_key{PENDING}")
        )
    except SupersetError as error:
        raise RotationError(f"superset_secret_key not rotated: {error}") from error
    _finish(secrets, "superset_secret_key", value)
    _audit(settings, "superset_secret_key", old, _key(value), **done)
    if was_running:
        progress(f"Superset: {server.start(progress)}")
    invalidated = done["recovery_codes_invalidated_for"]
    return (
        f"superset_secret_key rotated: {done['second_factors_resealed']} second-factor "
        "secret(s) re-sealed, every session ended"
        + (
            f"; recovery codes invalidated for {', '.join(invalidated)} (`rempart superset "
            "mfa reset USER` issues new ones at the next login)"
            if invalidated
            else ""
        )
    )


def rotate(
    settings: Settings,
    name: str,
    rebuild: Callable[[Settings], int] | None = None,
    progress: Callable = print,
) -> str:
    """Rotate one secret. `rebuild` is the full-refresh run that a new pseudonymisation key
    needs (the command line passes it when `--full-rebuild` allows it); without it that key
    is refused."""
    secrets = SecretStore(settings.secrets_dir)
    if secrets.is_external(name):
        raise RotationError(
            f"{name} comes from REMPART_{name.upper()}_FILE: rotate it where it is kept"
        )
    prepare_database(settings)
    if name == "audit_key":
        return _rotate_audit_key(settings, secrets, progress)
    if name == "archive_key":
        return _rotate_archive_key(settings, secrets, progress)
    if name == "backup_key":
        return _rotate_backup_key(settings, secrets, progress)
    if name == "pseudonymisation_key":
        return _rotate_pseudonymisation_key(settings, secrets, rebuild, progress)
    if name == "db-passwords" or (name.startswith("db_") and name.endswith("_password")):
        return _rotate_passwords(settings, secrets, name)
    if name == "superset_secret_key":
        return _rotate_superset_secret_key(settings, secrets, progress)
    raise RotationError(f"{name} cannot be rotated; one of: {', '.join(ROTATABLE)}")
