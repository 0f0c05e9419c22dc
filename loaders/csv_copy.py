"""CSV landing: Python checks and sniffs, PostgreSQL parses.

The file's bytes are streamed unchanged into `COPY ... (FORMAT csv)` on a temporary table of
text columns, then moved into `raw.records` as one text array per row. PostgreSQL's C parser
handles quoting, embedded newlines and the encoding conversion, at close to raw COPY speed, and
memory stays flat whatever the file size. Python reads a sample (encoding, delimiter,
header) and checks that COPY would keep every cell as written (`copy_keeps_cells`); a file it
would alter, or that it refuses, is read by Python instead (`csv_reader.py`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import psycopg
from psycopg import sql

from loaders.checksum import CHUNK_SIZE, FileDigest, line_of_offset
from loaders.errors import RejectedFile

# Python codec -> PostgreSQL encoding name.
ENCODINGS = {"utf-8": "UTF8", "cp1252": "WIN1252", "latin-1": "LATIN1"}
DELIMITERS = [";", ",", "\t", "|"]
SAMPLE_BYTES = 256 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class CsvLayout:
    encoding: str
    delimiter: str
    headers: list[str]
    skip_bytes: int  # a UTF-8 byte-order mark, not sent to PostgreSQL

    @property
    def pg_encoding(self) -> str:
        return ENCODINGS[self.encoding]


def _choose_encoding(file_name: str, handle: BinaryIO, digest: FileDigest, declared: str) -> str:
    if digest.first_nul_offset is not None:
        line, column = line_of_offset(handle, digest.first_nul_offset)
        raise RejectedFile(
            file_name,
            "the file contains a NUL byte",
            location=f"line {line}, column {column}",
            expected="text without NUL (0x00) bytes",
            found="0x00",
        )
    wanted = declared.lower().replace("_", "-")
    aliases = {
        "utf8": "utf-8",
        "windows-1252": "cp1252",
        "win1252": "cp1252",
        "latin1": "latin-1",
        "iso-8859-1": "latin-1",
    }
    wanted = aliases.get(wanted, wanted)
    if wanted == "auto":
        if digest.utf8_error_offset is None:
            return "utf-8"
        wanted = "cp1252"  # the usual encoding of files saved by Excel on Windows
        fallback_reason = True
    else:
        fallback_reason = False
        if wanted not in ENCODINGS:
            raise RejectedFile(
                file_name,
                "unsupported CSV encoding declared",
                expected="auto, " + ", ".join(ENCODINGS),
                found=declared,
            )
    if wanted == "utf-8":
        if digest.utf8_error_offset is not None:
            _reject_undecodable(file_name, handle, digest.utf8_error_offset, "UTF-8")
        return wanted
    decoder = codecs.getincrementaldecoder(wanted)()
    position = 0
    handle.seek(0)
    while chunk := handle.read(CHUNK_SIZE):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            expected = "UTF-8 or Windows-1252" if fallback_reason else wanted
            _reject_undecodable(file_name, handle, position + error.start, expected)
        position += len(chunk)
    handle.seek(0)
    return wanted


def _reject_undecodable(file_name: str, handle: BinaryIO, offset: int, expected: str) -> None:
    line, column = line_of_offset(handle, offset)
    handle.seek(offset)
    byte = handle.read(1)
    handle.seek(0)
    raise RejectedFile(
        file_name,
        "undecodable bytes",
        location=f"line {line}, column {column}",
        expected=f"text in {expected}",
        found=f"byte 0x{byte.hex().upper()}",
    )


def _sample_text(handle: BinaryIO, encoding: str, skip: int) -> str:
    handle.seek(skip)
    raw = handle.read(SAMPLE_BYTES)
    handle.seek(0)
    return raw.decode(encoding, errors="ignore")  # a multi-byte char may be cut at the end


def _sniff_delimiter(sample: str) -> str:
    """The candidate that splits the first rows into the same, largest number of fields."""
    lines = sample.splitlines()[:-1] or sample.splitlines()
    text = "\n".join(lines[:50])
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for row in rows if len(row) == width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def inspect_csv(
    file_name: str, handle: BinaryIO, digest: FileDigest, declared_encoding: str = "auto"
) -> CsvLayout:
    """Encoding, delimiter and header of a CSV file, or a precise rejection."""
    head = handle.read(3)
    handle.seek(0)
    skip = 3 if head == BOM else 0
    encoding = _choose_encoding(file_name, handle, digest, declared_encoding)
    sample = _sample_text(handle, encoding, skip)
    if not sample.strip():
        raise RejectedFile(
            file_name, "the file holds no text", expected="a header row", found="only blank space"
        )
    delimiter = _sniff_delimiter(sample)
    try:
        headers = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    except csv.Error as error:
        raise RejectedFile(
            file_name, "the header row cannot be parsed", location="line 1", found=str(error)
        ) from error
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        name = header.strip()
        if not name:
            raise RejectedFile(
                file_name,
                f"column {position} has an empty header",
                location="line 1",
                expected="a name for every column",
                found=f"{len(headers)} columns, column {position} unnamed",
            )
        if name in seen:
            raise RejectedFile(
                file_name,
                f"the header '{name}' appears twice",
                location="line 1",
                expected="unique column headers",
                found=f"'{name}' in columns {seen[name]} and {position}",
            )
        seen[name] = position
    return CsvLayout(encoding, delimiter, [h.strip() for h in headers], skip)


# A table holds at most 1,600 columns; the landing table has one more, the record number.
COPY_MAX_COLUMNS = 1_500
# How much of a line COPY's safety check holds in memory before it gives up on COPY.
MAX_LINE_BYTES = 64 << 20


def copy_keeps_cells(handle: BinaryIO, layout: CsvLayout) -> bool:
    """Whether COPY would land every cell exactly as Python's csv module reads it.

    The two parsers differ on quote characters only: PostgreSQL opens a quoted section at a
    quote anywhere in a field, Python only at the start of one. So remove every field that is
    quoted cleanly, from just after a delimiter or a line start to just before a delimiter or a
    line end (where both parsers agree it is one quoted field); if any quote character is left,
    the parsers may disagree and COPY is not used. The same for a line `\\.`, which older
    servers take as the end of the data. Lines are checked in chunks cut at line ends; a quoted
    field that spans a cut is seen as unclean, which only costs speed, never a cell.
    """
    if len(layout.headers) > COPY_MAX_COLUMNS:
        return False
    delimiter = re.escape(layout.delimiter.encode())
    not_a_field_edge = rb"[^" + delimiter + rb"\r\n]"
    # Each pattern starts with its literal, which the regex engine finds at C speed; the
    # lookarounds then say "after a delimiter, a line end or the start" and "before a
    # delimiter, a line end or the end".
    clean_quoted_field = re.compile(
        rb'"(?<!' + not_a_field_edge + rb'")[^"]*(?:""[^"]*)*"(?!' + not_a_field_edge + rb")"
    )
    end_of_data_marker = re.compile(rb"\\\.(?<![^\r\n]\\\.)(?![^\r\n])")
    handle.seek(layout.skip_bytes)
    pending = b""
    try:
        while True:
            chunk = handle.read(CHUNK_SIZE)
            data = pending + chunk
            if chunk:
                cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                if cut == 0:
                    if len(data) > MAX_LINE_BYTES:
                        return False
                    pending = data
                    continue
                data, pending = data[:cut], data[cut:]
            if end_of_data_marker.search(data):
                return False
            if b'"' in data and b'"' in clean_quoted_field.sub(b"", data):
                return False
            if not chunk:
                return True
    finally:
        handle.seek(0)


def copy_csv(
    conn: psycopg.Connection,
    target: sql.Composable,
    file_id: int,
    handle: BinaryIO,
    layout: CsvLayout,
    progress: Callable[[float], None] | None = None,
    size: int = 0,
) -> int | None:
    """Land every data row of the file and return how many, or None if COPY refuses the file
    (a lone carriage return, a ragged row): the caller then reads it with Python, which lands
    it or says precisely why not. Runs inside the caller's transaction, which it leaves in an
    error state on refusal: call it inside a savepoint."""
    columns = [sql.Identifier(f"c{i}") for i in range(1, len(layout.headers) + 1)]
    conn.execute(
        sql.SQL(
            "create temporary table landing_rows "
            "(row_number integer generated always as identity, {}) on commit drop"
        ).format(sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in columns))
    )
    copy_statement = sql.SQL(
        "copy landing_rows ({columns}) from stdin with (format csv, header true, "
        "delimiter {delimiter}, encoding {encoding}, force_not_null ({columns}))"
    ).format(
        columns=sql.SQL(", ").join(columns),
        delimiter=sql.Literal(layout.delimiter),
        encoding=sql.Literal(layout.pg_encoding),
    )
    try:
        with conn.cursor().copy(copy_statement) as copy:
            handle.seek(layout.skip_bytes)
            sent = layout.skip_bytes
            while chunk := handle.read(CHUNK_SIZE):
                copy.write(chunk)
                sent += len(chunk)
                if progress and size:
                    progress(0.9 * sent / size)
    except (psycopg.errors.BadCopyFileFormat, psycopg.errors.DataError):
        return None
    finally:
        handle.seek(0)
    moved = conn.execute(
        sql.SQL(
            "insert into {target} (file_id, sheet, row_number, cells) "
            "select %s, '', row_number + 1, array[{columns}] from landing_rows"
        ).format(target=target, columns=sql.SQL(", ").join(columns)),
        (file_id,),
    ).rowcount
    conn.execute("drop table landing_rows")
    if progress:
        progress(1.0)
    return moved
