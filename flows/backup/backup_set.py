"""One backup set: a folder of encrypted members and an encrypted manifest.

    rempart-20261203T020000Z/
        warehouse.dump.enc    pg_dump (custom format) of the whole database, audit included
        superset.db.enc       Superset's metadata (SQLite online backup)
        archive.tar.enc       the encrypted source archive, as it is on disk
        quarantine.tar.enc    rejected files and their reports
        manifest.json.enc     versions, every member's SHA-256 and size, every table's row
                              count and checksum, the audit chain's head, the creation time

Every member is streamed through the archive's chunked AES-256-GCM (loaders/archive.py)
under `backup_key`, a key of its own (not the archive key), so memory stays flat whatever the
size; the manifest, encrypted too, authenticates the members' hashes. A set is written under
a `.partial` name, synced, then renamed: a set that `list_sets` shows is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from subprocess import Popen
from typing import BinaryIO

import psycopg
from psycopg import sql

from flows.privacy.erasure_register import register_entries, write_journals
from flows.runtime.database import EmbeddedServer, connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from loaders.archive import (
    ArchiveError,
    decrypt_stream,
    encrypt_stream,
    produced_stream,
    sync_folder,
)
from loaders.audit import anchor_head

# The layout of a set. A release reads the formats from OLDEST_FORMAT to FORMAT; a set of
# another format is refused with the release that made it, before anything is written.
FORMAT = 1
OLDEST_FORMAT = 1
SET_PREFIX = "rempart-"
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json.enc"
WAREHOUSE = "warehouse.dump.enc"
# The tables that hold rows: partitions, not their partitioned parents (which would count
# every landed row twice), and not private.keys, whose rows the dump leaves out.
TABLES_SQL = """
select n.nspname, c.relname
from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
where c.relkind = 'r'
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%'
  and (n.nspname, c.relname) <> ('private', 'keys')
order by 1, 2
"""


# Order-independent checksums of a table: a sum over its rows, so no sort and no memory.
# hash-record-64 sums PostgreSQL's 64-bit hash of each row (PostgreSQL 14 and later), a
# hash that backs hash indexes and partitions and so stays the same across major versions;
# md5-60 sums the first 60 bits of the MD5 of each row's text, for older servers (and the
# sets made before hash-record-64), at about four times the cost. The manifest names its
# method, and a verification recomputes with it.
CHECKSUM_SQL = {
    "hash-record-64": "select count(*), coalesce(sum(hash_record_extended(t, 0)), 0) from {} as t",
    "md5-60": "select count(*), "
    "coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0) from {} as t",
}


def checksum_method(conn: psycopg.Connection) -> str:
    (fast,) = conn.execute(
        "select to_regprocedure('hash_record_extended(record, bigint)') is not null"
    ).fetchone()
    return "hash-record-64" if fast else "md5-60"


class BackupError(RuntimeError):
    """A backup cannot be made or read; the message names the set and the member."""


@dataclass(frozen=True)
class BackupSet:
    path: Path
    created_at: datetime
    size: int


class _Hashing:
    """A file seen through: what is written to it or read from it is hashed and counted."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def _seen(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.size += len(data)
        return data

    def write(self, data: bytes) -> int:
        return self.handle.write(self._seen(data))

    def read(self, size: int = -1) -> bytes:
        return self._seen(self.handle.read(size))


def seal_member(folder: Path, name: str, source: BinaryIO, key: bytes) -> dict[str, object]:
    path = folder / name
    with path.open("xb") as handle:
        hashing = _Hashing(handle)
        encrypt_stream(source, hashing, key)  # type: ignore[arg-type]
        handle.flush()
        os.fsync(handle.fileno())
    return {"name": name, "sha256": hashing.digest.hexdigest(), "size": hashing.size}


@contextlib.contextmanager
def _tar_stream(folder: Path) -> Iterator[BinaryIO]:
    """A readable stream of a tar of `folder` (empty if it does not exist)."""

    def write_tar(pipe: BinaryIO) -> None:
        with tarfile.open(fileobj=pipe, mode="w|") as tar:
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)

    try:
        with produced_stream(write_tar) as stream:
            yield stream
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"could not read {folder}: {error}") from error


def warehouse_state(conn: psycopg.Connection, method: str | None = None) -> dict[str, object]:
    """What a restore must reproduce, as this connection's snapshot sees it: every table's
    row count and order-independent checksum (by `method`, default the best this server
    has), the audit chain's head, Rempart's roles."""
    method = method or checksum_method(conn)
    tables = {}
    for schema, table in conn.execute(TABLES_SQL).fetchall():
        count, checksum = conn.execute(
            sql.SQL(CHECKSUM_SQL[method]).format(sql.Identifier(schema, table))
        ).fetchone()
        tables[f"{schema}.{table}"] = {"rows": int(count), "checksum": int(checksum)}
    head = conn.execute(
        "select event_id, event_hash from audit.events order by event_id desc limit 1"
    ).fetchone()
    roles = conn.execute(
        "select rolname from pg_roles where rolname like 'rempart\\_%' order by 1"
    ).fetchall()
    return {
        "tables": tables,
        "checksum_method": method,
        "audit_head": {"event_id": head[0], "hash": head[1]} if head else None,
        "roles": [name for (name,) in roles],
    }


@contextlib.contextmanager
def postgres_tool(name: str, args: list[str], failure: str, **pipes: int) -> Iterator[Popen]:
    """pg_dump or pg_restore of the embedded server's binaries, with its messages in a file
    (a pipe left unread could fill and stall it). A failure of the tool raises BackupError
    `failure: <its message>`; a failure of the caller kills it."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [str(EmbeddedServer.binary(name)), *args], stderr=errors, **pipes
        )
        try:
            yield process
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(BrokenPipeError):
                        stream.close()
        if process.wait() != 0:
            errors.seek(0)
            raise BackupError(f"{failure}: {errors.read().decode(errors='replace').strip()[-800:]}")


@contextlib.contextmanager
def _pg_dump(settings: Settings, snapshot: str) -> Iterator[BinaryIO]:
    arguments = [
        f"--snapshot={snapshot}",  # the very state the manifest describes
        "--format=custom",
        "--compress=6",
        # The keyed-hash pads of the audit and pseudonymisation keys: key material, which a
        # backup never holds; a restore installs them again from the secrets store.
        "--exclude-table-data=private.keys",
        f"--dbname={connection_info(settings).url()}",
    ]
    with postgres_tool("pg_dump", arguments, "pg_dump failed", stdout=subprocess.PIPE) as dump:
        assert dump.stdout is not None
        yield dump.stdout


@contextlib.contextmanager
def _sqlite_copy(database: Path, scratch_parent: Path) -> Iterator[BinaryIO]:
    """An online backup of Superset's SQLite metadata (consistent while Superset runs), in a
    private folder beside the original, removed afterwards."""
    with tempfile.TemporaryDirectory(dir=scratch_parent, prefix=".backup-") as scratch:
        copy = Path(scratch) / "superset.db"
        copy.write_bytes(b"")
        if database.exists():
            with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
                source.backup(target)
        with copy.open("rb") as handle:
            yield handle


def _version() -> str:
    try:
        return version("rempart")
    except PackageNotFoundError:
        return "unknown"


def create_set(
    settings: Settings,
    destination: Path,
    now: datetime | None = None,
    progress: Callable[[str], None] = print,
) -> BackupSet:
    """Write one complete set into `destination`; on any failure, nothing that looks whole."""
    now = now or datetime.now(UTC)
    key = SecretStore(settings.secrets_dir).get_bytes("backup_key")
    name = f"{SET_PREFIX}{now:%Y%m%dT%H%M%SZ}"
    final = destination / name
    if final.exists():
        raise BackupError(f"{final} exists already")
    destination.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=destination, prefix=f".{name}.", suffix=PARTIAL_SUFFIX))
    try:
        members = []
        # One snapshot for the dump and the manifest's counts: a file landing meanwhile is in
        # neither, so the manifest describes exactly what the dump holds.
        with connection_info(settings).connect() as conn:
            conn.execute("begin isolation level repeatable read read only")
            (snapshot,) = conn.execute("select pg_export_snapshot()").fetchone()
            installed_keys = dict(
                conn.execute("select key_name, fingerprint from private.keys").fetchall()
            )
            progress(f"backup {name}: warehouse (pg_dump), row counts and checksums")
            # The counts run on this connection while pg_dump reads through its own: two
            # scans of the same snapshot at once, not one after the other.
            with ThreadPoolExecutor(max_workers=1) as counter:
                counting = counter.submit(warehouse_state, conn)
                try:
                    with _pg_dump(settings, snapshot) as dump:
                        members.append(seal_member(partial, WAREHOUSE, dump, key))
                except BaseException:
                    conn.cancel_safe()  # no need to finish counting for a set that fails
                    raise
                state = counting.result()
            conn.rollback()
        progress(f"backup {name}: Superset metadata")
        superset = settings.state_dir / "superset"
        with _sqlite_copy(superset / "superset.db", settings.state_dir) as db:
            members.append(seal_member(partial, "superset.db.enc", db, key))
        for label, folder in (
            ("archive", settings.archive_dir),
            ("quarantine", settings.quarantine_dir),
        ):
            progress(f"backup {name}: {label} ({folder})")
            with _tar_stream(folder) as stream:
                members.append(seal_member(partial, f"{label}.tar.enc", stream, key))
        dbt_manifest = settings.dbt_target_dir / "manifest.json"
        manifest = {
            "format": FORMAT,
            "rempart_version": _version(),
            "created_at": now.isoformat(),
            "dbt_manifest_sha256": hashlib.sha256(dbt_manifest.read_bytes()).hexdigest()
            if dbt_manifest.exists()
            else None,
            "members": members,
            # Public identifiers of the keys the data was sealed and pseudonymised with (the
            # keys stay out): a restore refuses a secrets store that holds other ones.
            "key_fingerprints": installed_keys,
            **state,
        }
        with tempfile.TemporaryFile() as plain:
            plain.write(json.dumps(manifest, sort_keys=True).encode())
            plain.seek(0)
            seal_member(partial, MANIFEST, plain, key)
        sync_folder(partial)
        os.rename(partial, final)
        sync_folder(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(path.stat().st_size for path in final.iterdir())
    progress(f"backup {name}: complete, {size / 1e6:.1f} MB in {destination}")
    return BackupSet(final, now, size)


def create_backups(settings: Settings, progress: Callable[[str], None] = print) -> list[BackupSet]:
    """One set in the first destination, copied (partial, synced, renamed) to the others."""
    first, *others = settings.backup_destinations
    made = create_set(settings, first, progress=progress)
    copies = [made]
    for destination in others:
        destination.mkdir(parents=True, exist_ok=True)
        partial = destination / f".{made.path.name}{PARTIAL_SUFFIX}"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(made.path, partial)
        for member in partial.iterdir():
            with member.open("rb") as handle:
                os.fsync(handle.fileno())
        sync_folder(partial)
        os.rename(partial, destination / made.path.name)
        sync_folder(destination)
        progress(f"backup {made.path.name}: copied to {destination}")
        copies.append(BackupSet(destination / made.path.name, made.created_at, made.size))
    _refresh_erasure_journals(settings)
    with connection_info(settings).connect() as conn:
        if problem := anchor_head(conn, settings.audit_anchor):
            progress(f"audit: {problem}")
    return copies


def _refresh_erasure_journals(settings: Settings) -> None:
    """Every destination holds the erasure register beside its sets, for a restore to apply
    what was erased after a set was made (flows/privacy/erasure_register.py)."""
    with connection_info(settings).connect() as conn:
        if conn.execute("select to_regclass('privacy.erasures')").fetchone()[0] is None:
            return
        entries = register_entries(conn)
    if entries:
        write_journals(settings, entries)


def list_sets(destination: Path) -> list[BackupSet]:
    """The complete sets in `destination`, oldest first (partial ones are not sets)."""
    sets = []
    if not destination.is_dir():
        return sets
    for path in sorted(destination.glob(f"{SET_PREFIX}*")):
        if not path.is_dir() or not (path / MANIFEST).is_file():
            continue
        try:
            created = datetime.strptime(path.name[len(SET_PREFIX) :], "%Y%m%dT%H%M%SZ")
        except ValueError:
            continue
        size = sum(member.stat().st_size for member in path.iterdir())
        sets.append(BackupSet(path, created.replace(tzinfo=UTC), size))
    return sets


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def read_manifest(path: Path, key: bytes) -> dict:
    """The set's manifest, authentic and of a format this release reads."""
    if not (path / MANIFEST).is_file():
        raise BackupError(f"{path.name}: {MANIFEST} is missing: not a complete backup set")
    with (path / MANIFEST).open("rb") as handle, tempfile.TemporaryFile() as plain:
        try:
            decrypt_stream(handle, plain, key)
        except ArchiveError as error:
            raise BackupError(f"{path.name}: {MANIFEST}: {error}") from error
        plain.seek(0)
        manifest = json.loads(plain.read())
    made_by = f"Rempart {manifest.get('rempart_version', '?')}"
    found = manifest.get("format")
    if not isinstance(found, int) or found > FORMAT:
        raise BackupError(
            f"{path.name} was made by {made_by} in backup format {found}, newer than this "
            f"release reads ({FORMAT}): restore it with {made_by} or later"
        )
    if found < OLDEST_FORMAT:
        raise BackupError(
            f"{path.name} was made by {made_by} in backup format {found}, older than this "
            f"release reads ({OLDEST_FORMAT} to {FORMAT}): restore it with {made_by}, then "
            "take a new backup"
        )
    return manifest


def read_member(path: Path, member: dict, key: bytes, target: BinaryIO) -> None:
    """Decrypt one member into `target`, in one pass that also checks it is the very file
    the manifest names (its size and SHA-256: no member of another set swapped in)."""
    file = path / member["name"]
    if not file.is_file():
        raise BackupError(f"{path.name}: {member['name']} is missing")
    with file.open("rb") as handle:
        seen = _Hashing(handle)
        try:
            decrypt_stream(seen, target, key)  # type: ignore[arg-type]
        except ArchiveError as error:
            raise BackupError(f"{path.name}: {member['name']}: {error}") from error
        seen.read()  # anything after the last chunk counts too
    if seen.size != member["size"] or seen.digest.hexdigest() != member["sha256"]:
        raise BackupError(f"{path.name}: {member['name']} is not the file the manifest names")


def check_set(path: Path, key: bytes, skip: tuple[str, ...] = ()) -> dict:
    """Every member (but those in `skip`, which the caller reads itself) present, every chunk
    authentic, each the file the manifest names; returns the manifest. A failure's message
    names the set, the member and the chunk."""
    manifest = read_manifest(path, key)
    for member in manifest["members"]:
        if member["name"] not in skip:
            read_member(path, member, key, _Discard())  # type: ignore[arg-type]
    return manifest
