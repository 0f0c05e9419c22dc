"""Land one file: claim it, check it, copy its rows, archive it, record everything, or nothing.

The life of a file, in order:

1. claim: an exclusive `flock` on the inbox file, so concurrent runs never take the same file;
2. check: checksum, type, size, content (`formats.py`), before any row is written;
3. land, in one transaction: registry row, every data row (`records.py`), the encrypted
   archive written and synced, the audit events; the commit makes all of it visible at once;
4. clear the inbox: only after the commit, so a crash at any point leaves the file in the inbox
   and the database without any of its rows; the next run lands it (or sees it landed).

A rejected file moves to the quarantine folder with a `<name>.error.json` report, and its
registry row says `failed` with the same message.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import psycopg

from loaders import archive
from loaders.audit import append_event
from loaders.checksum import FileDigest, digest_file
from loaders.errors import RejectedFile
from loaders.formats import FileType, detect_type
from loaders.records import land_records
from loaders.sheets import Progress

SHA_LOCK_NAMESPACE = 7_265_003  # advisory locks on (namespace, hash of sha256)


@dataclass(frozen=True)
class LandingConfig:
    archive_dir: Path
    quarantine_dir: Path
    archive_key: bytes
    actor: str
    max_bytes: int
    csv_encoding: str = "auto"
    trace_dir: Path | None = None  # where the full trace of an unexpected failure is written


@dataclass
class LandingResult:
    file_name: str
    status: str  # landed | duplicate | failed | skipped
    rows: int = 0
    seconds: float = 0.0
    file_id: int | None = None
    message: str = ""


class FileBusy(Exception):
    pass


@contextmanager
def claim(path: Path) -> Iterator[BinaryIO]:
    """Open the inbox file under an exclusive lock that the kernel drops if we die."""
    try:
        handle = path.open("rb")
    except FileNotFoundError as gone:
        raise FileBusy("taken by another run") from gone
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as busy:
            raise FileBusy("being landed by another run") from busy
        try:
            current = path.stat()
        except FileNotFoundError as gone:
            raise FileBusy("taken by another run") from gone
        if current.st_ino != os.fstat(handle.fileno()).st_ino:
            raise FileBusy("replaced while we waited")
        yield handle
    finally:
        handle.close()


def _archive_path(config: LandingConfig, sha256: str, name: str, when: datetime) -> Path:
    # Named after the content: a retried landing rewrites the same archive, never a second one.
    return config.archive_dir / f"{when:%Y}" / f"{when:%m}" / f"{sha256[:16]}_{name}.enc"


def _quarantine(
    path: Path,
    config: LandingConfig,
    rejection: RejectedFile,
    sha256: str | None,
    file_id: int | None,
) -> Path:
    config.quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = config.quarantine_dir / path.name
    if target.exists():
        target = config.quarantine_dir / f"{path.stem}-{(sha256 or 'x')[:8]}{path.suffix}"
    report = {
        **rejection.as_dict(),
        "file_id": file_id,
        "sha256": sha256,
        "rejected_at": datetime.now(UTC).isoformat(),
    }
    report_path = target.with_name(target.name + ".error.json")
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    os.replace(path, target)
    return target


def _unexpected_failure(name: str, error: Exception, config: LandingConfig) -> RejectedFile:
    """A failure no check foresaw (a reader library's bug, a PostgreSQL limit): this file
    fails with a one-line reason; the trace goes to a log file that the reason names."""
    trace = f"{name}\n" + "".join(traceback.format_exception(error))
    where = ""
    if config.trace_dir is not None:
        config.trace_dir.mkdir(parents=True, exist_ok=True)
        log = config.trace_dir / f"landing-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.log"
        log.write_text(trace)
        where = f"; the full trace is in {log}"
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, psycopg.Error):
        detail = (error.diag.message_primary if error.diag else None) or detail
        return RejectedFile(name, "PostgreSQL refused the file", found=f"{detail}{where}")
    return RejectedFile(
        name,
        "the file could not be landed",
        found=f"{type(error).__name__}{': ' + detail if detail else ''}{where}",
    )


def land_file(
    conn: psycopg.Connection, path: Path, config: LandingConfig, progress: Progress | None = None
) -> LandingResult:
    """Land one file. `conn` is the loader's connection (not in a transaction)."""
    started = time.monotonic()
    received_at = datetime.now(UTC)
    name = path.name
    try:
        with claim(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            inspect_text = path.suffix.lower() in (".csv", ".tsv", ".txt")
            digest = digest_file(handle, inspect_text=inspect_text)
            sha256 = digest.sha256
            rejection: RejectedFile | None = None
            try:
                file_type = detect_type(path, handle, size, config.max_bytes)
                with conn.transaction():
                    outcome = _land_or_skip(
                        conn,
                        path,
                        handle,
                        file_type,
                        size,
                        sha256,
                        digest,
                        received_at,
                        config,
                        progress,
                    )
            except RejectedFile as rejected:
                rejection = rejected
            except Exception as error:
                if conn.broken or conn.closed:
                    raise  # the database itself is gone: the batch stops (and is retried)
                rejection = _unexpected_failure(name, error, config)
            if rejection is not None:
                file_id = _record_rejection(
                    conn, path, size, sha256, received_at, config, rejection
                )
                _quarantine(path, config, rejection, sha256, file_id)
                return LandingResult(
                    name, "failed", 0, time.monotonic() - started, file_id, str(rejection)
                )
            # Committed: the file's bytes are in the database and the archive. Clear the inbox.
            path.unlink(missing_ok=True)
            outcome.seconds = time.monotonic() - started
            return outcome
    except FileBusy as busy:
        return LandingResult(name, "skipped", message=str(busy))


def _land_or_skip(
    conn: psycopg.Connection,
    path: Path,
    handle: BinaryIO,
    file_type: FileType,
    size: int,
    sha256: str,
    digest: FileDigest,
    received_at: datetime,
    config: LandingConfig,
    progress: Progress | None,
) -> LandingResult:
    name = path.name
    # Two runs landing the same content at once: the second waits here, then sees a duplicate.
    conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (SHA_LOCK_NAMESPACE, sha256))
    original = conn.execute(
        "select file_id, file_name from raw.files where sha256 = %s and status = 'landed'",
        (sha256,),
    ).fetchone()
    if original is not None:
        file_id = _insert_file(
            conn,
            name,
            file_type,
            size,
            sha256,
            "duplicate",
            received_at,
            config.actor,
            duplicate_of=original[0],
        )
        events = (
            ("received", {"size_bytes": size}),
            ("duplicate", {"duplicate_of": original[0], "original_name": original[1]}),
        )
        for action, details in events:
            append_event(
                conn,
                action,
                config.actor,
                file_id=file_id,
                file_name=name,
                sha256=sha256,
                details=details,
            )
        return LandingResult(
            name,
            "duplicate",
            0,
            file_id=file_id,
            message=f"same content as file {original[0]} ({original[1]})",
        )
    file_id = _insert_file(conn, name, file_type, size, sha256, "landed", received_at, config.actor)
    rows = land_records(
        conn, file_id, name, handle, file_type, size, digest, config.csv_encoding, progress
    )
    target = _archive_path(config, sha256, name, received_at)
    archive.encrypt_file(handle, target, config.archive_key)
    conn.execute(
        "update raw.files set row_count = %s, landed_at = clock_timestamp(), archive_path = %s "
        "where file_id = %s",
        (rows, str(target), file_id),
    )
    append_event(
        conn,
        "received",
        config.actor,
        file_id=file_id,
        file_name=name,
        sha256=sha256,
        details={
            "size_bytes": size,
            "file_type": str(file_type),
            "received_at": received_at.isoformat(),
        },
    )
    append_event(
        conn, "landed", config.actor, file_id=file_id, file_name=name, sha256=sha256, row_count=rows
    )
    append_event(
        conn,
        "archived",
        config.actor,
        file_id=file_id,
        file_name=name,
        sha256=sha256,
        details={"archive_path": str(target)},
    )
    return LandingResult(name, "landed", rows, file_id=file_id)


def _insert_file(
    conn: psycopg.Connection,
    name: str,
    file_type: FileType | str,
    size: int,
    sha256: str,
    status: str,
    received_at: datetime,
    actor: str,
    duplicate_of: int | None = None,
    error: str | None = None,
) -> int:
    row = conn.execute(
        "insert into raw.files (file_name, file_type, size_bytes, sha256, status, error, "
        "duplicate_of, received_at, uploaded_by) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "returning file_id",
        (name, str(file_type), size, sha256, status, error, duplicate_of, received_at, actor),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _record_rejection(
    conn: psycopg.Connection,
    path: Path,
    size: int,
    sha256: str,
    received_at: datetime,
    config: LandingConfig,
    rejection: RejectedFile,
) -> int:
    suffix = path.suffix.lower().lstrip(".") or "unknown"
    with conn.transaction():
        file_id = _insert_file(
            conn,
            path.name,
            suffix,
            size,
            sha256,
            "failed",
            received_at,
            config.actor,
            error=str(rejection),
        )
        append_event(
            conn,
            "received",
            config.actor,
            file_id=file_id,
            file_name=path.name,
            sha256=sha256,
            details={"size_bytes": size},
        )
        append_event(
            conn,
            "rejected",
            config.actor,
            file_id=file_id,
            file_name=path.name,
            sha256=sha256,
            details=rejection.as_dict(),
        )
    return file_id


def inbox_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox, oldest first; hidden and temporary files are left alone."""
    if not inbox.is_dir():
        return []
    found: list[tuple[float, str, Path]] = []
    for path in inbox.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(inbox).parts)
        if hidden or path.name.endswith((".part", ".tmp", ".crdownload", "~")):
            continue
        try:
            if path.is_file():
                found.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            continue  # taken by a concurrent run while we listed
    return [path for _, _, path in sorted(found)]
