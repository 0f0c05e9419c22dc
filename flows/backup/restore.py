"""`rempart backup restore SET`: a set back onto this installation, all of it or nothing.

The order is what makes a bad set write nothing:

1. the manifest decrypts under `backup_key`, is of a format this release reads, and names the
   very audit and pseudonymisation keys this secrets store holds;
2. each member is unpacked beside its destination, checked as it streams (each chunk
   authentic, each file the one the manifest names): the warehouse into a new database,
   then compared with the manifest and its audit trail verified, as `verify` does;
   Superset's metadata into a temporary file; the archive and quarantine into temporary
   folders. Any failure drops them all: the installation is as it was;
3. only then, with `--replace`, is what the set replaces backed up, and the set swapped in
   by renames; what it replaces is dropped.

Provisioning (`prepare_database`) then gives the roles their logins and passwords from the
secrets store, installs the keys the dump leaves out and runs the migrations a set of an older
release needs. Every Superset session ends: people log in again. A `backup_restored` event
opens the restored trail's next chapter.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sqlite3
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from flows.backup.backup_set import (
    WAREHOUSE,
    BackupError,
    check_set,
    create_backups,
    read_member,
)
from flows.backup.verify import differences, restore_warehouse
from flows.privacy.erasure import reapply_erasures
from flows.privacy.erasure_register import read_journals, register_entries
from flows.runtime.database import ConnectionInfo, DatabaseError, EmbeddedServer, connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.superset.answer_cache import new_cache_generation
from flows.superset.server import SupersetServer
from flows.warehouse.provision import prepare_database
from loaders.archive import produced_stream
from loaders.audit import anchor_head, append_event, continue_chain
from loaders.schema import install_key, key_fingerprint

SUPERSET_MEMBER = "superset.db.enc"
FOLDER_MEMBERS = {"archive": "archive.tar.enc", "quarantine": "quarantine.tar.enc"}


@dataclass
class Restoration:
    name: str
    tables: int
    seconds: float
    safety_set: str | None
    erasures_reapplied: int = 0


def installation_contents(settings: Settings) -> list[str]:
    """What a restore would replace: landed files, archived or quarantined files, Superset's
    metadata. Empty means an installation that holds nothing yet."""
    found = []
    # No database yet: nothing to lose there.
    with contextlib.suppress(DatabaseError), connection_info(settings).connect() as conn:
        if conn.execute("select to_regclass('raw.files')").fetchone()[0]:
            (files,) = conn.execute("select count(*) from raw.files").fetchone()
            if files:
                found.append(f"{files} file(s) in the warehouse's registry")
    for label, folder in (
        ("archive", settings.archive_dir),
        ("quarantine", settings.quarantine_dir),
    ):
        count = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        if count:
            found.append(f"{count} file(s) in the {label} ({folder})")
    metadata = SupersetServer(settings).home / "superset.db"
    if metadata.exists():
        found.append(f"Superset's metadata ({metadata})")
    return found


def _check_keys(name: str, manifest: dict, secrets: SecretStore) -> bytes | None:
    """The set's keys must be this store's; its audit key may be a retired one (the set was
    made before a rotation), which is returned: the restored chain must continue from it."""
    sealed_under = None
    for key_name, fingerprint in sorted(manifest.get("key_fingerprints", {}).items()):
        ring = secrets.keyring(f"{key_name}_key") if key_name == "audit" else []
        held = key_fingerprint(secrets.get_bytes(f"{key_name}_key"))
        if held == fingerprint:
            continue
        retired = [key for key in ring if key_fingerprint(key) == fingerprint]
        if retired:
            sealed_under = retired[0]
            continue
        raise BackupError(
            f"{name} was sealed with another {key_name} key (fingerprint {fingerprint}) "
            f"than the one in {secrets.directory} ({held}): import the secrets exported "
            "from the installation that made it (`rempart secrets import`)"
        )
    return sealed_under


def _unpack_folder(path: Path, member: dict, key: bytes, target: Path) -> None:
    """Decrypt a tar member straight into `target`, through a pipe: no plain copy on disk."""
    try:
        with produced_stream(lambda pipe: read_member(path, member, key, pipe)) as plain:
            with tarfile.open(fileobj=plain, mode="r|") as tar:
                tar.extractall(target, filter="data")
            while plain.read(1 << 16):  # the tar's end padding, read so the writer ends
                pass
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{path.name}: {member['name']} does not unpack: {error}") from error


def _unpack_superset(path: Path, member: dict, key: bytes, target: Path) -> None:
    with target.open("xb") as handle:
        read_member(path, member, key, handle)  # type: ignore[arg-type]
    # Sessions opened before the backup was taken end here: everyone logs in again.
    with contextlib.closing(sqlite3.connect(target)) as db, db:
        if db.execute("select 1 from sqlite_master where name = 'rempart_sessions'").fetchone():
            db.execute("delete from rempart_sessions")


def _maintenance(info: ConnectionInfo) -> ConnectionInfo:
    return dataclasses.replace(info, dbname="postgres")


@contextlib.contextmanager
def _staged_warehouse(
    path: Path, manifest: dict, key: bytes, live: ConnectionInfo, audit_keys: list[bytes]
) -> Iterator[ConnectionInfo]:
    """The set's warehouse in a new database beside the live one, equal to its manifest;
    dropped on the way out unless it was swapped in."""
    staged = dataclasses.replace(live, dbname=f"{live.dbname}_restoring")
    name = sql.Identifier(staged.dbname)
    with _maintenance(live).connect(autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        admin.execute(sql.SQL("create database {} template template0").format(name))
    try:
        restore_warehouse(path, manifest, key, staged)
        with staged.connect() as conn:
            problems = differences(manifest, conn, audit_keys)
        if problems:
            raise BackupError(f"{path.name}: the restored warehouse differs: {'; '.join(problems)}")
        yield staged
    finally:
        with _maintenance(live).connect(autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(name))


def _swap_database(live: ConnectionInfo, staged: ConnectionInfo) -> None:
    replaced = sql.Identifier(f"{live.dbname}_replaced")
    with _maintenance(live).connect(autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(replaced))
        exists = admin.execute(
            "select 1 from pg_database where datname = %s", (live.dbname,)
        ).fetchone()
        if exists:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = %s and pid <> pg_backend_pid()",
                (live.dbname,),
            )
            admin.execute(
                sql.SQL("alter database {} rename to {}").format(
                    sql.Identifier(live.dbname), replaced
                )
            )
        admin.execute(
            sql.SQL("alter database {} rename to {}").format(
                sql.Identifier(staged.dbname), sql.Identifier(live.dbname)
            )
        )
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(replaced))


def _swap_path(staged: Path | None, live: Path) -> None:
    """Put `staged` (None: nothing) where `live` is, by renames on one file system; the old
    one goes."""
    old = live.with_name(f".{live.name}.replaced")
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink(missing_ok=True)
    if live.exists():
        os.rename(live, old)
    if staged is not None:
        os.rename(staged, live)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink(missing_ok=True)


def restore_set(
    settings: Settings,
    path: Path,
    replace: bool = False,
    progress: Callable[[str], None] = print,
) -> Restoration:
    started = time.monotonic()
    secrets = SecretStore(settings.secrets_dir)
    key = secrets.get_bytes("backup_key")
    if not settings.database_url:
        for message in EmbeddedServer(settings).start():
            progress(message)
    progress(f"restore {path.name}: hashes and chunks")
    # The warehouse dump is checked as it streams into its new database: read once.
    manifest = check_set(path, key, skip=(WAREHOUSE,))
    retired_audit_key = _check_keys(path.name, manifest, secrets)
    present = installation_contents(settings)
    if present and not replace:
        raise BackupError(
            f"this installation is not empty ({'; '.join(present)}): `rempart backup restore "
            f"{path.name} --replace` backs it up first, then replaces it"
        )
    superset = SupersetServer(settings)
    live = connection_info(settings)
    members = {member["name"]: member for member in manifest["members"]}
    safety_set = None
    with contextlib.ExitStack() as staging:
        progress(f"restore {path.name}: the warehouse, into a new database")
        staged_db = staging.enter_context(
            _staged_warehouse(path, manifest, key, live, secrets.keyring("audit_key"))
        )
        staged_paths: list[tuple[Path | None, Path]] = []
        for label, live_folder in (
            ("archive", settings.archive_dir),
            ("quarantine", settings.quarantine_dir),
        ):
            progress(f"restore {path.name}: the {label}")
            live_folder.parent.mkdir(parents=True, exist_ok=True)
            folder = live_folder.with_name(f".{live_folder.name}.restoring")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700)
            staging.callback(shutil.rmtree, folder, ignore_errors=True)
            _unpack_folder(path, members[FOLDER_MEMBERS[label]], key, folder)
            staged_paths.append((folder, live_folder))
        progress(f"restore {path.name}: Superset's metadata")
        superset.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        metadata = superset.home / ".superset.db.restoring"
        metadata.unlink(missing_ok=True)
        staging.callback(metadata.unlink, missing_ok=True)
        _unpack_superset(path, members[SUPERSET_MEMBER], key, metadata)
        live_metadata = superset.home / "superset.db"
        # An empty member: Superset had never started when the set was made.
        staged_paths.append((metadata if metadata.stat().st_size else None, live_metadata))

        replaced_erasures = _erasure_register(live) if present else []
        if present:
            progress("restore: the set is sound; backing up what it replaces")
            safety_set = create_backups(settings, progress=progress)[0].path.name
        progress(f"restore {path.name}: swapping it in")
        superset_was_running = superset.status().running
        if superset_was_running:
            superset.stop()
        _swap_database(live, staged_db)
        for staged, live_path in staged_paths:
            _swap_path(staged, live_path)
    for journal in ("superset.db-wal", "superset.db-shm", "superset.db-journal"):
        (superset.home / journal).unlink(missing_ok=True)
    # The next start migrates the restored metadata if it comes from another Superset release.
    superset.bootstrap_marker.unlink(missing_ok=True)
    if retired_audit_key is not None:
        # The restored trail ends under an audit key rotated since: it continues, through a
        # signed rotation event, under the current one.
        with connection_info(settings).connect() as conn, conn.transaction():
            install_key(conn, "audit", retired_audit_key)
            continue_chain(
                conn, secrets.get_bytes("audit_key"), settings.user, f"restore of {path.name}"
            )
    progress("restore: roles, passwords and keys from the secrets store")
    prepare_database(settings)
    seconds = round(time.monotonic() - started, 1)
    with connection_info(settings).connect() as conn, conn.transaction():
        append_event(
            conn,
            "backup_restored",
            settings.user,
            details={
                "set": path.name,
                "set_created_at": manifest["created_at"],
                "rempart_version": manifest.get("rempart_version"),
                "tables": len(manifest["tables"]),
                "safety_set": safety_set,
                "seconds": seconds,
            },
        )
    with connection_info(settings).connect() as conn:
        anchor_head(conn, settings.audit_anchor, restored=True)
    # Erasures logged after the set was made (in the destinations' journals, or in the
    # database it replaced) are applied to it again before anyone sees it.
    reapplied = reapply_erasures(
        settings, read_journals(settings) + replaced_erasures, f"restore of {path.name}", progress
    )
    # Charts cached from the marts this restore replaced are never served again.
    progress(new_cache_generation(settings))
    if superset_was_running:
        progress(f"Superset: {superset.start(progress)}")
    return Restoration(
        path.name, len(manifest["tables"]), seconds, safety_set, erasures_reapplied=len(reapplied)
    )


def _erasure_register(live: ConnectionInfo) -> list[dict[str, str]]:
    try:
        with live.connect() as conn:
            if conn.execute("select to_regclass('privacy.erasures')").fetchone()[0] is None:
                return []
            return register_entries(conn)
    except DatabaseError:
        return []
