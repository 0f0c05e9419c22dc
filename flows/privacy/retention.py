"""`rempart retention apply`: what a source declared it keeps no longer, removed.

Which file is due is the dbt project's answer (the mart `dq_file_retention`: each file's
source, its period from the `source_kinds` seed, `kept_until`); this module does what dbt
cannot, as administrator, one file per transaction:

* its landed rows go: the file's partition of `raw.records` is dropped, its header rows
  deleted;
* its archived copy is deleted, or, for a rejected file, its copy and report in quarantine;
* with `mart_history = remove`, its values go from the history of the marts (the snapshot
  `snap_kpi_values`); with `keep`, they stay there;
* the registry row stays, stamped `expired_at`, and a `retention_applied` event records what
  was removed and how much.

Then the marts are rebuilt from what raw still holds (a full-refresh run, published like any
other), so no dashboard shows a value of an expired file. `--dry-run` lists the same files
and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from flows.runtime.database import connection_info
from flows.runtime.settings import Settings
from loaders.archive import destroy_file
from loaders.audit import append_event

DUE_SQL = """
select retention.file_id, retention.file_name, retention.source_kind, retention.file_status,
       retention.kept_until, retention.mart_history, files.archive_path, files.sha256
from marts.dq_file_retention as retention
join raw.files as files on files.file_id = retention.file_id
where retention.kept_until <= now() and files.expired_at is null
order by retention.kept_until, retention.file_id
"""
SNAPSHOT = sql.Identifier("snapshots", "snap_kpi_values")


class RetentionError(RuntimeError):
    """Retention cannot be applied; the message says why."""


@dataclass(frozen=True)
class DueFile:
    file_id: int
    file_name: str
    source_kind: str
    status: str
    kept_until: datetime
    mart_history: str
    archive_path: str | None
    sha256: str


@dataclass
class RetentionReport:
    due: list[DueFile] = field(default_factory=list)
    rows_removed: int = 0
    history_removed: int = 0
    copies_removed: int = 0

    def summary(self, dry_run: bool) -> str:
        if not self.due:
            return "retention: nothing is due"
        if dry_run:
            return f"retention: {len(self.due)} file(s) due; --dry-run: nothing removed"
        return (
            f"retention: {len(self.due)} file(s) removed: {self.rows_removed} landed row(s), "
            f"{self.copies_removed} archived or quarantined cop(ies), {self.history_removed} "
            "version(s) of the marts' history"
        )


def due_files(conn: psycopg.Connection) -> list[DueFile]:
    if conn.execute("select to_regclass('marts.dq_file_retention')").fetchone()[0] is None:
        raise RetentionError(
            "the marts have no dq_file_retention yet: `rempart run` builds and publishes them"
        )
    return [DueFile(*row) for row in conn.execute(DUE_SQL).fetchall()]


def archived_copy(settings: Settings, archive_path: str) -> Path:
    """Where a file's archived copy is: the registry's path, or, for an archive restored to
    another folder, the same <year>/<month>/<name> under this installation's archive."""
    archived = Path(archive_path)
    if not archived.is_relative_to(settings.archive_dir):
        archived = settings.archive_dir.joinpath(*archived.parts[-3:])
    return archived


def _copies(settings: Settings, due: DueFile) -> list[Path]:
    """The file's copies on disk: its archive, or its quarantined copy and report."""
    found = []
    if due.archive_path:
        found.append(archived_copy(settings, due.archive_path))
    if due.status == "failed" and settings.quarantine_dir.is_dir():
        for report in settings.quarantine_dir.glob("*.error.json"):
            try:
                details = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if details.get("file_id") == due.file_id:
                found += [report, report.with_name(report.name.removesuffix(".error.json"))]
    return [path for path in found if path.exists()]


def _remove(conn: psycopg.Connection, settings: Settings, due: DueFile) -> tuple[int, int, int]:
    with conn.transaction():
        partition = f"records_{due.file_id}"
        rows = 0
        if conn.execute("select to_regclass(%s)", (f"raw.{partition}",)).fetchone()[0]:
            (rows,) = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier("raw", partition))
            ).fetchone()
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier("raw", partition)))
        conn.execute("delete from raw.sheets where file_id = %s", (due.file_id,))
        history = 0
        if (
            due.mart_history == "remove"
            and conn.execute("select to_regclass('snapshots.snap_kpi_values')").fetchone()[0]
        ):
            history = conn.execute(
                sql.SQL("delete from {} where source_file_id = %s").format(SNAPSHOT),
                (due.file_id,),
            ).rowcount
        conn.execute(
            "update raw.files set expired_at = now(), archive_path = null where file_id = %s",
            (due.file_id,),
        )
        copies = _copies(settings, due)
        # Destroyed before the commit: if the commit fails, the rows are still there and the
        # next run removes them; no copy outlives a file marked expired.
        for path in copies:
            destroy_file(path)
        append_event(
            conn,
            "retention_applied",
            settings.user,
            file_id=due.file_id,
            file_name=due.file_name,
            sha256=due.sha256,
            row_count=rows,
            details={
                "source_kind": due.source_kind,
                "kept_until": due.kept_until.isoformat(),
                "mart_history": due.mart_history,
                "history_versions_removed": history,
                "copies_removed": len(copies),
            },
        )
    return rows, history, len(copies)


def apply_retention(
    settings: Settings, dry_run: bool = False, progress: Callable[[str], None] = print
) -> RetentionReport:
    report = RetentionReport()
    with connection_info(settings).connect() as conn:
        report.due = due_files(conn)
        for due in report.due:
            progress(
                f"{'due' if dry_run else 'removing'}: {due.file_name} (file {due.file_id}, "
                f"{due.source_kind}, kept until {due.kept_until:%Y-%m-%d}, history "
                f"{due.mart_history})"
            )
            if dry_run:
                continue
            rows, history, copies = _remove(conn, settings, due)
            report.rows_removed += rows
            report.history_removed += history
            report.copies_removed += copies
    return report
