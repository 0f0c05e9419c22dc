"""`rempart backup verify`: a set proves it restores.

Every member's chunks and hash are checked (backup_set.check_set), and the warehouse dump,
checked the same way as it streams, is restored into a throw-away PostgreSQL server, whose
every table must have the manifest's row count and checksum, and whose audit trail must
verify under the audit key. The outcome, pass or fail, and its duration go to the live audit trail.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from flows.backup.backup_set import (
    WAREHOUSE,
    BackupError,
    check_set,
    postgres_tool,
    read_member,
    warehouse_state,
)
from flows.runtime.database import ConnectionInfo, connection_info, temporary_server
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from loaders.audit import append_event, verify_chain


@dataclass
class Verification:
    name: str
    passed: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    tables: int = 0


def restore_warehouse(path: Path, manifest: dict, key: bytes, info: ConnectionInfo) -> None:
    """The set's dump into the (empty) database `info` names, in one transaction, checked
    against the manifest's hash as it streams. The roles that own and are granted its objects
    are created first, without login nor password: provisioning gives those."""
    with info.connect(autocommit=True) as admin:
        for role in manifest.get("roles", []):
            exists = admin.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            if not exists:
                admin.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    arguments = ["--exit-on-error", "--single-transaction", f"--dbname={info.url()}"]
    failure = f"{path.name}: the warehouse does not restore"
    with postgres_tool("pg_restore", arguments, failure, stdin=subprocess.PIPE) as restore:
        assert restore.stdin is not None
        [dump] = [m for m in manifest["members"] if m["name"] == WAREHOUSE]
        # If pg_restore stops early, its own message (raised by postgres_tool) says why.
        with contextlib.suppress(BrokenPipeError):
            read_member(path, dump, key, restore.stdin)  # type: ignore[arg-type]


def differences(manifest: dict, conn: psycopg.Connection, audit_keys: list[bytes]) -> list[str]:
    """Where the restored database `conn` differs from the manifest: every table's row count
    and checksum, the audit trail's last event, and its chain under `audit_keys`."""
    restored = warehouse_state(conn, manifest.get("checksum_method", "md5-60"))
    chain = verify_chain(conn, audit_keys)
    expected, problems = manifest["tables"], []
    for table in sorted(set(expected) | set(restored["tables"])):
        if expected.get(table) != restored["tables"].get(table):
            problems.append(
                f"{table}: manifest {expected.get(table)}, restored {restored['tables'].get(table)}"
            )
    if restored["audit_head"] != manifest["audit_head"]:
        problems.append("the audit trail's last event differs from the manifest")
    if not chain.intact:
        problems.append(
            f"restored audit trail broken at event {chain.broken_event_id}: {chain.problem}"
        )
    return problems


def verify_set(
    settings: Settings, path: Path, progress: Callable[[str], None] = print
) -> Verification:
    started = time.monotonic()
    result = Verification(path.name)
    secrets = SecretStore(settings.secrets_dir)
    key = secrets.get_bytes("backup_key")
    try:
        progress(f"verify {path.name}: hashes and chunks")
        # The warehouse dump is checked as it streams into the restore: read once, not twice.
        manifest = check_set(path, key, skip=(WAREHOUSE,))
        with temporary_server(settings) as scratch:
            progress(f"verify {path.name}: restoring the warehouse into a throw-away server")
            info = connection_info(scratch)
            restore_warehouse(path, manifest, key, info)
            progress(f"verify {path.name}: row counts and checksums")
            result.tables = len(manifest["tables"])
            with info.connect() as conn:
                result.problems += differences(manifest, conn, secrets.keyring("audit_key"))
    except BackupError as error:
        result.problems.append(str(error))
    result.passed = not result.problems
    result.seconds = round(time.monotonic() - started, 1)
    _record(settings, result)
    return result


def _record(settings: Settings, result: Verification) -> None:
    with connection_info(settings).connect() as conn, conn.transaction():
        append_event(
            conn,
            "backup_verified" if result.passed else "backup_verification_failed",
            settings.user,
            details={
                "set": result.name,
                "seconds": result.seconds,
                "tables": result.tables,
                "problems": result.problems[:20],
            },
        )


def last_verifications(settings: Settings) -> dict[str, tuple[bool, str]]:
    """{set name: (passed, when)} of the latest verification of each set, from the trail."""
    with connection_info(settings).connect() as conn:
        rows = conn.execute(
            "select distinct on (details ->> 'set') details ->> 'set', action, occurred_at "
            "from audit.events where action in ('backup_verified', 'backup_verification_failed') "
            "order by details ->> 'set', event_id desc"
        ).fetchall()
    return {
        name: (action == "backup_verified", f"{at:%Y-%m-%d %H:%M}") for name, action, at in rows
    }
