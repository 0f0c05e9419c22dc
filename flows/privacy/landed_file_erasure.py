"""One landed file without a person's rows, in one transaction, as administrator.

* the rows leave `raw.records`; the sheet's and the file's row counts follow;
* the snapshot's versions of that file's values go (they were published with the person in
  their aggregates);
* the file's archived copy is rewritten without them, in its own format
  (`flows/privacy/redaction.py`), read back and compared with the rows raw still holds, sealed
  again under the archive key; the old copy is overwritten, then replaced. A copy that cannot
  be rewritten (a legacy .xls, or one that does not read back as the rows kept) is destroyed.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
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
from flows.privacy.subject import PersonRow
from flows.runtime.settings import Settings
from loaders.archive import decrypt_stream, destroy_file, encrypt_file, sync_folder
from loaders.errors import RejectedFile
from loaders.formats import FileType


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


def erase_landed_file(
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
