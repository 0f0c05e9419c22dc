"""A landed file's rows into raw.records, its sheets into raw.sheets, the reader its type's.

Each landed file has a partition of raw.records of its own: created empty here (through
`raw.create_file_partition`, since the loader owns no table), filled by binary COPY, attached
to raw.records once full. CSV goes to PostgreSQL's own parser (`csv_copy`), or to `csv_reader`
where COPY would alter a cell; every other type to its reader (`read_sheets`), whose sheets
are streamed in as they are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import psycopg
from psycopg import sql

from loaders import json_reader, ods_reader, workbook_reader
from loaders.checksum import FileDigest
from loaders.csv_copy import copy_csv, copy_keeps_cells, inspect_csv
from loaders.csv_reader import check_width, read_csv
from loaders.errors import RejectedFile
from loaders.formats import FileType
from loaders.sheets import Progress, Sheet


def read_sheets(
    file_name: str,
    handle: BinaryIO,
    file_type: FileType,
    size: int,
    progress: Progress | None = None,
) -> Iterator[Sheet]:
    """The sheets of a file of any type but CSV, from the reader for its type."""
    if file_type is FileType.XLS:
        return workbook_reader.read_xls(file_name, handle, progress)
    if file_type is FileType.JSON:
        return json_reader.read_json(file_name, handle, progress)
    if file_type is FileType.JSONL:
        return json_reader.read_json_lines(file_name, handle, size, progress)
    if file_type is FileType.ODS:
        return ods_reader.read_ods(file_name, handle, progress)
    return workbook_reader.read_workbook(file_name, handle, progress)


def land_records(
    conn: psycopg.Connection,
    file_id: int,
    file_name: str,
    handle: BinaryIO,
    file_type: FileType,
    size: int,
    digest: FileDigest,
    csv_encoding: str,
    progress: Progress | None = None,
) -> int:
    """Create the file's partition, fill it, record its sheets, attach it; return its rows.

    In the caller's transaction, for a file it has just registered as being landed. A file
    without any data row is refused before its partition is attached.
    """
    partition = conn.execute("select raw.create_file_partition(%s)", (file_id,)).fetchone()
    assert partition is not None
    target = sql.SQL(partition[0])  # already quoted by the database (format %I)
    if file_type is FileType.CSV:
        rows = _land_csv(
            conn, target, file_id, file_name, handle, size, digest, csv_encoding, progress
        )
    else:
        sheets = read_sheets(file_name, handle, file_type, size, progress)
        rows = _land_sheets(conn, target, file_id, file_name, file_type, sheets)
    conn.execute("select raw.attach_file_partition(%s)", (file_id,))
    return rows


def _land_csv(
    conn: psycopg.Connection,
    target: sql.Composable,
    file_id: int,
    name: str,
    handle: BinaryIO,
    size: int,
    digest: FileDigest,
    csv_encoding: str,
    progress: Progress | None,
) -> int:
    layout = inspect_csv(name, handle, digest, csv_encoding)
    check_width(name, layout.headers)
    rows = None
    if copy_keeps_cells(handle, layout):
        try:
            with conn.transaction():  # a savepoint: a refused COPY leaves nothing behind
                rows = copy_csv(conn, target, file_id, handle, layout, progress, size)
                if rows is None:
                    raise _CopyRefused
        except _CopyRefused:
            rows = None
    if rows is None:
        sheet = read_csv(name, handle, layout, size, progress)
        rows = _copy_sheet(conn, target, file_id, name, sheet)
    _record_sheet(conn, file_id, "", layout.headers, rows)
    if rows == 0:
        raise RejectedFile(
            name,
            "the file has a header but no data rows",
            expected="at least one data row",
            found="only the header",
        )
    return rows


class _CopyRefused(Exception):
    """COPY refused the file; its savepoint is rolled back and Python reads the file."""


def _land_sheets(
    conn: psycopg.Connection,
    target: sql.Composable,
    file_id: int,
    name: str,
    file_type: FileType,
    sheets: Iterator[Sheet],
) -> int:
    total = 0
    for sheet in sheets:
        rows = _copy_sheet(conn, target, file_id, name, sheet)
        _record_sheet(conn, file_id, sheet.name, sheet.headers, rows)
        total += rows
    if total == 0:
        raise RejectedFile(
            name,
            "the file has no data rows",
            expected="at least one data row",
            found="no records" if file_type in (FileType.JSON, FileType.JSONL) else "headers only",
        )
    return total


def _copy_sheet(
    conn: psycopg.Connection, target: sql.Composable, file_id: int, name: str, sheet: Sheet
) -> int:
    """Stream one sheet's rows into the file's partition; return how many."""
    rows = 0
    try:
        with conn.cursor().copy(
            sql.SQL(
                "copy {} (file_id, sheet, row_number, cells) from stdin (format binary)"
            ).format(target)
        ) as copy:
            # Binary COPY: psycopg encodes each row in C, several times faster than text.
            copy.set_types(["bigint", "text", "integer", "text[]"])
            for row_number, cells in sheet.rows:
                copy.write_row((file_id, sheet.name, row_number, cells))
                rows += 1
    except psycopg.DataError as error:
        where = f"after {rows} rows"
        raise RejectedFile(
            name,
            "PostgreSQL refused a value",
            location=f"sheet '{sheet.name}', {where}" if sheet.name else where,
            found=error.diag.message_primary or str(error),
        ) from error
    return rows


def _record_sheet(
    conn: psycopg.Connection, file_id: int, sheet: str, headers: list[str], rows: int
) -> None:
    conn.execute(
        "insert into raw.sheets (file_id, sheet, headers, row_count) values (%s, %s, %s, %s)",
        (file_id, sheet, headers, rows),
    )
