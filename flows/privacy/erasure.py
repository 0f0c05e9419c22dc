"""`rempart privacy erase`: one person removed from everything Rempart holds.

The person is found as subject access finds them (`flows/privacy/subject.py`): by the keyed
hash of the identifier given, and of every other identifier on their rows. Before anything is
removed, the erasure register (`erasure_register`: `privacy.erasures`, the identifiers' keyed
hashes, never the identifiers) records the erasure, and a copy of the register is written,
sealed under the backup key, beside the backup sets of every destination: a backup restored
later, made before the erasure, gets it applied again (`reapply_erasures`). Then:

* one landed file at a time, in one transaction each, as administrator
  (`landed_file_erasure`): their rows leave `raw.records`, the snapshot's versions of that
  file's values go, and the file's archived copy is rewritten without them (or destroyed
  when it cannot be);
* the quarantined (rejected) copies and their reports that mention one of the person's
  identifiers are deleted, and a rejection message that quotes one is redacted in the
  registry (`rejected_file_erasure`).

A file landed later that brings the person back is listed by the mart
`dq_erased_subject_returns` and in the run summary (`returned_subjects`). Last, a
`privacy_erasure` event records the keyed hash and the counts per place; the caller rebuilds
the marts from what raw still holds (a full-refresh run).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from flows.privacy.erasure_register import record_entries, register_entries, write_journals
from flows.privacy.landed_file_erasure import erase_landed_file
from flows.privacy.rejected_file_erasure import erase_rejected
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
from loaders.audit import append_event


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


def _apply(
    conn: psycopg.Connection,
    settings: Settings,
    entries: list[dict[str, str]],
    progress: Callable[[str], None],
) -> ErasureReport:
    """Remove the person these register entries (one erasure) name; record them first. The
    connection is in autocommit: each `transaction()` below is one, committed on its own."""
    with conn.transaction():
        record_entries(conn, entries)
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
            record_entries(conn, found_more)
        write_journals(settings, register_entries(conn))
    archive_key = SecretStore(settings.secrets_dir).get_bytes("archive_key")
    by_file: dict[int, list[PersonRow]] = defaultdict(list)
    for row in person.rows:
        by_file[row.file_id].append(row)
    for file_id, rows in sorted(by_file.items()):
        progress(f"erasing {len(rows)} row(s) of {rows[0].file_name} (file {file_id})")
        done = erase_landed_file(conn, settings, archive_key, file_id, rows)
        if done["archive"] == "destroyed":
            progress(f"  its archived copy was destroyed, not rewritten: {done['archive_note']}")
        report.files.append(done)
        report.rows_removed += int(done["rows"])
        report.history_removed += int(done["history_versions"])
    report.quarantined_removed, report.rejections_redacted = erase_rejected(
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
