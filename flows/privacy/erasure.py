"""`rempart privacy erase`: one person removed from everything Rempart holds.

The person is found as subject access finds them (`flows/privacy/subject.py`): by the keyed
hash of the identifier given, and of every other identifier on their rows. Then, one
landed file at a time, in one transaction each, as administrator:

* their rows leave `raw.records`; the sheet's and the file's row counts follow;
* the file's archived copy is rewritten without them, in its own format
  (`flows/privacy/redaction.py`), read back and compared with the rows kept, sealed again
  under the archive key; the old copy is overwritten, then replaced. A copy that cannot be
  rewritten (a legacy .xls, or one that does not read back as the rows kept) is destroyed;
* the snapshot's versions of that file's values go (they were published with the person in
  their aggregates).

Quarantined (rejected) copies and their reports that mention one of the person's identifiers
are deleted, and a rejection message that quotes one is redacted in the registry.

Before any of it, the erasure register (`privacy.erasures`: the identifiers' keyed hashes,
never the identifiers) records the erasure, and a copy of the register is written, sealed
under the backup key, beside the backup sets of every destination: a backup restored later,
made before the erasure, gets it applied again (`reapply_erasures`). A file landed later that
brings the person back is listed by the mart `dq_erased_subject_returns` and in the run
summary. Last, a `privacy_erasure` event records the keyed hash and the counts per place; the
caller rebuilds the marts from what raw still holds (a full-refresh run).
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from flows.privacy.redaction import (
    Unrewritable,
    read_rows,
    row_as_dict,
    rows_fingerprint,
    without_rows,
)
from flows.privacy.retention import archived_copy
from flows.privacy.subject import (
    PersonRow,
    SubjectError,
    check_identifier_kind,
    find_person,
    keyed_hash,
)
from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from loaders.archive import (
    ArchiveError,
    decrypt_stream,
    destroy_file,
    encrypt_file,
    sync_folder,
)
from loaders.audit import append_event
from loaders.errors import RejectedFile
from loaders.formats import FileType

JOURNAL = "erasures.enc"
# What may be an identifier in a rejected file's text: runs without space or punctuation
# that JSON, CSV and XML put around values.
TOKEN = re.compile(r"[^\s\x00,;|\"'<>{}\[\]()=]+")
MAX_TOKENS = 200_000


class ErasureError(RuntimeError):
    """The erasure cannot run as asked; the message says why."""


@dataclass
class ErasureReport:
    erasure_id: str
    hashes: set[tuple[str, str]]
    rows_removed: int = 0
    files: list[dict[str, object]] = field(default_factory=list)
    quarantined_removed: int = 0
    rejections_redacted: int = 0
    history_removed: int = 0

    @property
    def archives_rewritten(self) -> int:
        return sum(1 for f in self.files if f["archive"] == "rewritten")

    @property
    def archives_destroyed(self) -> int:
        return sum(1 for f in self.files if f["archive"] == "destroyed")

    def counts(self) -> dict[str, object]:
        return {
            "rows_removed": self.rows_removed,
            "files": len(self.files),
            "archives_rewritten": self.archives_rewritten,
            "archives_destroyed": self.archives_destroyed,
            "quarantined_copies_removed": self.quarantined_removed,
            "rejection_messages_redacted": self.rejections_redacted,
            "history_versions_removed": self.history_removed,
        }

    def summary(self) -> str:
        return (
            f"erased: {self.rows_removed} landed row(s) in {len(self.files)} file(s); "
            f"{self.archives_rewritten} archived cop(ies) rewritten, {self.archives_destroyed} "
            f"destroyed; {self.quarantined_removed} quarantined cop(ies) removed; "
            f"{self.history_removed} version(s) of the marts' history removed"
        )


# -- the register ---------------------------------------------------------------------------


def register_entries(conn: psycopg.Connection) -> list[dict[str, str]]:
    rows = conn.execute(
        "select erasure_id::text, erased_at, identifier_kind, identifier_hash "
        "from privacy.erasures order by erased_at, erasure_id, identifier_kind, "
        "identifier_hash"
    ).fetchall()
    return [
        {"erasure_id": e, "erased_at": t.isoformat(), "identifier_kind": k, "identifier_hash": p}
        for e, t, k, p in rows
    ]


def _record(conn: psycopg.Connection, entries: Iterable[dict[str, str]]) -> None:
    for entry in entries:
        conn.execute(
            "insert into privacy.erasures "
            "(erasure_id, erased_at, identifier_kind, identifier_hash) "
            "values (%s, %s, %s, %s) on conflict do nothing",
            (
                entry["erasure_id"],
                entry["erased_at"],
                entry["identifier_kind"],
                entry["identifier_hash"],
            ),
        )


def write_journals(settings: Settings, entries: list[dict[str, str]]) -> list[Path]:
    """The register, sealed under the backup key, beside the sets of every destination."""
    key = SecretStore(settings.secrets_dir).get_bytes("backup_key")
    document = json.dumps({"format": 1, "erasures": entries}, sort_keys=True).encode()
    written = []
    for destination in settings.backup_destinations:
        destination.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = destination / JOURNAL
        encrypt_file(io.BytesIO(document), path, key)
        written.append(path)
    return written


def read_journals(settings: Settings) -> list[dict[str, str]]:
    """Every erasure the destinations' journals hold (a journal that does not open under this
    backup key is another installation's, and ignored)."""
    key = SecretStore(settings.secrets_dir).get_bytes("backup_key")
    entries: dict[tuple[str, str, str], dict[str, str]] = {}
    for destination in settings.backup_destinations:
        path = destination / JOURNAL
        if not path.is_file():
            continue
        plain = io.BytesIO()
        try:
            with path.open("rb") as handle:
                decrypt_stream(handle, plain, key)
        except ArchiveError:
            continue
        for entry in json.loads(plain.getvalue())["erasures"]:
            entries[(entry["erasure_id"], entry["identifier_kind"], entry["identifier_hash"])] = (
                entry
            )
    return list(entries.values())


# -- one file -------------------------------------------------------------------------------


def _kept_rows(conn: psycopg.Connection, file_id: int) -> dict[str, tuple[int, str]]:
    """The fingerprint of the rows raw still holds of this file, streamed from the server."""
    with conn.cursor(name="kept_rows") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            "select records.sheet, sheets.headers, records.cells from raw.records as records "
            "join raw.sheets as sheets using (file_id, sheet) "
            "where records.file_id = %s order by records.sheet, records.row_number",
            (file_id,),
        )
        return rows_fingerprint(
            (sheet, row_as_dict(headers, cells)) for sheet, headers, cells in cursor
        )


def _rewrite_archive(
    conn: psycopg.Connection,
    settings: Settings,
    archive_key: bytes,
    file_id: int,
    file_type: FileType,
    file_name: str,
    path: Path,
    drop: dict[str, set[int]],
) -> str:
    """The archived copy without the person's rows, or destroyed: 'rewritten' or 'destroyed'
    with the reason. Called once the rows are gone from raw, in the same transaction."""
    with path.open("rb") as handle, io.BytesIO() as plain:
        decrypt_stream(handle, plain, archive_key)
        data = plain.getvalue()
    try:
        rewritten = without_rows(file_type, file_name, data, drop, settings.csv_encoding)
        del data
        try:
            read_back = rows_fingerprint(
                (sheet, row)
                for sheet, _, row in read_rows(
                    file_type, file_name, rewritten, settings.csv_encoding
                )
            )
        except RejectedFile:
            read_back = {}  # no data row left: the loader would refuse it, rightly
        kept = _kept_rows(conn, file_id)
        for sheet in set(read_back) | set(kept):
            if read_back.get(sheet, (0, "")) != kept.get(sheet, (0, "")):
                raise Unrewritable(
                    f"the rewritten copy does not read back as the rows kept (sheet '{sheet}')"
                    if sheet
                    else "the rewritten copy does not read back as the rows kept"
                )
    except (Unrewritable, RejectedFile) as reason:
        destroy_file(path)
        conn.execute("update raw.files set archive_path = null where file_id = %s", (file_id,))
        return f"destroyed: {reason}"
    # The new copy takes the old one's place in one rename; the old one, still linked under
    # another name until then, is overwritten and deleted after.
    new, old = path.with_name(path.name + ".erasing"), path.with_name(path.name + ".erased")
    encrypt_file(io.BytesIO(rewritten), new, archive_key)
    old.unlink(missing_ok=True)
    os.link(path, old)
    os.replace(new, path)
    sync_folder(path.parent)
    destroy_file(old)
    return "rewritten"


def _erase_file(
    conn: psycopg.Connection,
    settings: Settings,
    archive_key: bytes,
    file_id: int,
    rows: list[PersonRow],
) -> dict[str, object]:
    drop: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        drop[row.sheet].add(row.row_number)
    with conn.transaction():
        file_name, file_type, archive_path = conn.execute(
            "select file_name, file_type, archive_path from raw.files where file_id = %s "
            "for update",
            (file_id,),
        ).fetchone()
        removed = 0
        for sheet, numbers in drop.items():
            count = conn.execute(
                "delete from raw.records where file_id = %s and sheet = %s "
                "and row_number = any(%s)",
                (file_id, sheet, sorted(numbers)),
            ).rowcount
            conn.execute(
                "update raw.sheets set row_count = row_count - %s "
                "where file_id = %s and sheet = %s",
                (count, file_id, sheet),
            )
            removed += count
        conn.execute(
            "update raw.files set row_count = row_count - %s where file_id = %s",
            (removed, file_id),
        )
        history = 0
        if conn.execute("select to_regclass('snapshots.snap_kpi_values')").fetchone()[0]:
            history = conn.execute(
                "delete from snapshots.snap_kpi_values where source_file_id = %s", (file_id,)
            ).rowcount
        archive = "none"
        if archive_path and (path := archived_copy(settings, archive_path)).is_file():
            archive = _rewrite_archive(
                conn, settings, archive_key, file_id, FileType(file_type), file_name, path, drop
            )
    return {
        "file_id": file_id,
        "file_name": file_name,
        "rows": removed,
        "history_versions": history,
        "archive": archive.split(":", 1)[0],
        "archive_note": archive,
    }


# -- rejected files -------------------------------------------------------------------------


def _texts(path: Path) -> str:
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            parts = [
                workbook.read(entry).decode("utf-8", "replace")
                for entry in workbook.namelist()
                if entry.endswith(".xml") and workbook.getinfo(entry).file_size < 64 << 20
            ]
        return re.sub(r"<[^>]*>", " ", " ".join(parts))
    return data.decode("utf-8", "replace") + " " + data.decode("cp1252", "replace")


def _matching_tokens(
    conn: psycopg.Connection, text: str, hashes: set[tuple[str, str]]
) -> list[str]:
    tokens = sorted(set(TOKEN.findall(text)))[:MAX_TOKENS]
    values = sorted({identifier_hash for _, identifier_hash in hashes})
    return [
        token
        for (token,) in conn.execute(
            "select token from unnest(%s::text[]) as token "
            "where privacy.identifier_hash(token) = any(%s)",
            (tokens, values),
        )
    ]


def _erase_rejected(
    conn: psycopg.Connection, settings: Settings, hashes: set[tuple[str, str]]
) -> tuple[int, int]:
    removed = 0
    if settings.quarantine_dir.is_dir():
        for report in sorted(settings.quarantine_dir.glob("*.error.json")):
            copy = report.with_name(report.name.removesuffix(".error.json"))
            text = _texts(report) + (" " + _texts(copy) if copy.is_file() else "")
            if _matching_tokens(conn, text, hashes):
                for path in (copy, report):
                    if path.is_file():
                        destroy_file(path)
                removed += 1
    redacted = 0
    with conn.transaction():
        for file_id, error in conn.execute(
            "select file_id, error from raw.files where error is not null"
        ).fetchall():
            found = _matching_tokens(conn, error, hashes)
            if found:
                for token in found:
                    error = error.replace(token, "[erased]")
                conn.execute("update raw.files set error = %s where file_id = %s", (error, file_id))
                redacted += 1
    return removed, redacted


# -- the whole ------------------------------------------------------------------------------


def _apply(
    conn: psycopg.Connection,
    settings: Settings,
    entries: list[dict[str, str]],
    progress: Callable[[str], None],
) -> ErasureReport:
    """Remove the person these register entries (one erasure) name; record them first. The
    connection is in autocommit: each `transaction()` below is one, committed on its own."""
    with conn.transaction():
        _record(conn, entries)
    write_journals(settings, register_entries(conn))
    hashes = {(e["identifier_kind"], e["identifier_hash"]) for e in entries}
    person = find_person(conn, settings, hashes)
    report = ErasureReport(entries[0]["erasure_id"], person.hashes)
    found_more = [
        {**entries[0], "identifier_kind": kind, "identifier_hash": identifier_hash}
        for kind, identifier_hash in person.hashes - hashes
    ]
    if found_more:  # their other identifiers: recognised too when they come back
        with conn.transaction():
            _record(conn, found_more)
        write_journals(settings, register_entries(conn))
    archive_key = SecretStore(settings.secrets_dir).get_bytes("archive_key")
    by_file: dict[int, list[PersonRow]] = defaultdict(list)
    for row in person.rows:
        by_file[row.file_id].append(row)
    for file_id, rows in sorted(by_file.items()):
        progress(f"erasing {len(rows)} row(s) of {rows[0].file_name} (file {file_id})")
        done = _erase_file(conn, settings, archive_key, file_id, rows)
        if done["archive"] == "destroyed":
            progress(f"  its archived copy was destroyed, not rewritten: {done['archive_note']}")
        report.files.append(done)
        report.rows_removed += int(done["rows"])
        report.history_removed += int(done["history_versions"])
    report.quarantined_removed, report.rejections_redacted = _erase_rejected(
        conn, settings, person.hashes
    )
    # Rows deleted leave their tuples in the table files until vacuumed.
    for file_id in by_file:
        conn.execute(f"vacuum raw.records_{int(file_id)}")
    if report.history_removed:
        conn.execute("vacuum snapshots.snap_kpi_values")
    return report


def erase(
    settings: Settings, kind: str, value: str, progress: Callable[[str], None] = print
) -> ErasureReport:
    try:
        check_identifier_kind(settings, kind)
    except SubjectError as error:
        raise ErasureError(str(error)) from error
    with connection_info(settings).connect(autocommit=True) as conn:
        try:
            identifier_hash = keyed_hash(conn, value)
        except SubjectError as error:
            raise ErasureError(str(error)) from error
        (erased_at,) = conn.execute("select now()").fetchone()
        entry = {
            "erasure_id": str(uuid.uuid4()),
            "erased_at": erased_at.isoformat(),
            "identifier_kind": kind,
            "identifier_hash": identifier_hash,
        }
        report = _apply(conn, settings, [entry], progress)
        with conn.transaction():
            append_event(
                conn,
                "privacy_erasure",
                settings.user,
                details={
                    "erasure_id": report.erasure_id,
                    "identifier_kind": kind,
                    "identifier_hash": identifier_hash,
                    "identifiers": len(report.hashes),
                    **report.counts(),
                    "per_file": [
                        {k: f[k] for k in ("file_id", "file_name", "rows", "archive")}
                        for f in report.files
                    ],
                },
            )
    return report


def returned_subjects(settings: Settings) -> list[tuple[str, int]]:
    """The published files holding a person erased before: (file name, rows)."""
    with connection_info(settings).connect() as conn:
        if conn.execute("select to_regclass('marts.dq_erased_subject_returns')").fetchone()[0]:
            return conn.execute(
                "select file_name, count(*)::int from marts.dq_erased_subject_returns "
                "group by file_name order by file_name"
            ).fetchall()
    return []


def reapply_erasures(
    settings: Settings,
    known: list[dict[str, str]],
    reason: str,
    progress: Callable[[str], None] = print,
) -> list[ErasureReport]:
    """The erasures in `known` (a journal, the register of a replaced database) that this
    database has not recorded: applied again, each audited as `privacy_erasure_reapplied`."""
    with connection_info(settings).connect(autocommit=True) as conn:
        present = {
            (e["erasure_id"], e["identifier_kind"], e["identifier_hash"])
            for e in register_entries(conn)
        }
        missing: dict[str, list[dict[str, str]]] = defaultdict(list)
        for entry in known:
            if (
                entry["erasure_id"],
                entry["identifier_kind"],
                entry["identifier_hash"],
            ) not in present:
                missing[entry["erasure_id"]].append(entry)
        reports = []
        for erasure_id, entries in sorted(missing.items(), key=lambda m: m[1][0]["erased_at"]):
            progress(f"erasure {erasure_id} of {entries[0]['erased_at']}: applied again")
            report = _apply(conn, settings, entries, progress)
            with conn.transaction():
                append_event(
                    conn,
                    "privacy_erasure_reapplied",
                    settings.user,
                    details={"erasure_id": erasure_id, "reason": reason, **report.counts()},
                )
            reports.append(report)
    return reports
