"""Readers for workbooks and JSON: every row as the text the file had, sheet by sheet.

CSV files do not come through here: PostgreSQL parses them itself (`csv_copy.py`), which is
several times faster than any Python reader, or `csv_reader.py` reads what COPY would alter.

A reader library that trips over a damaged file (xlrd raises assertions and index errors on a
broken compound document) is reported as a damaged workbook, never as a crash.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from loaders.errors import RejectedFile

Cells = list[str | None]
Progress = Callable[[float], None]


@dataclass
class Sheet:
    """One table of a file. `headers` may grow while `rows` is consumed (JSON keys)."""

    name: str
    headers: list[str]
    rows: Iterator[tuple[int, Cells]]
    header_row: int = 1
    extra: dict[str, str] = field(default_factory=dict)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column names a spreadsheet shows."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_text(value: object) -> str:
    """The text a spreadsheet cell holds: integers without '.0', dates in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _check_nul(file_name: str, location: str, cells: Cells) -> None:
    for index, cell in enumerate(cells):
        if cell is not None and "\x00" in cell:
            raise RejectedFile(
                file_name,
                "a cell contains a NUL character",
                location=location,
                expected="text without NUL (0x00) characters",
                found=f"NUL in column {index + 1}",
            )


def _workbook_headers(
    file_name: str, sheet: str, row: list[object], first_column: int, header_row: int
) -> list[str]:
    """Header names; blank or merged-away cells get the stable name `column_<letter>`."""
    headers: list[str] = []
    seen: dict[str, str] = {}
    for offset, value in enumerate(row):
        letter = column_letter(first_column + offset)
        name = cell_text(value).strip()
        if not name:
            name = f"column_{letter}"
        if name in seen:
            raise RejectedFile(
                file_name,
                f"the header '{name}' appears twice",
                location=f"sheet '{sheet}', row {header_row}",
                expected="unique column headers",
                found=f"'{name}' in columns {seen[name]} and {letter}",
            )
        seen[name] = letter
        headers.append(name)
    return headers


def _damaged(file_name: str, error: BaseException, location: str | None = None) -> RejectedFile:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return RejectedFile(
        file_name,
        "the workbook is damaged and cannot be read",
        location=location,
        expected="a workbook that its program opens without repair",
        found=f"{type(error).__name__}{': ' + detail if detail else ''}",
    )


def read_workbook(
    file_name: str, handle: BinaryIO, progress: Progress | None = None
) -> Iterator[Sheet]:
    """.xlsx, .xlsm, .xlsb and .ods, through calamine (which tells them apart by content)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(handle)
    except Exception as error:
        raise RejectedFile(
            file_name,
            "the workbook cannot be read: it is damaged, or written in a way the reader "
            "(calamine) does not support",
            found=f"{type(error).__name__}: {str(error).strip()[:200]}",
        ) from error
    names = workbook.sheet_names
    for sheet_index, sheet_name in enumerate(names):
        try:
            sheet = workbook.get_sheet_by_name(sheet_name)
        except Exception as error:
            raise _damaged(file_name, error, f"sheet '{sheet_name}'") from error
        if sheet.height == 0 or sheet.start is None:
            continue
        first_row, first_column = sheet.start
        total = max(1, sheet.height)
        rows = iter(sheet.iter_rows())
        header_row = first_row + 1
        headers = _workbook_headers(file_name, sheet_name, next(rows), first_column, header_row)

        def data_rows(
            rows: Iterator[list[object]] = rows,
            header_row: int = header_row,
            sheet_name: str = sheet_name,
            total: int = total,
            sheet_index: int = sheet_index,
        ) -> Iterator[tuple[int, Cells]]:
            for offset, row in enumerate(rows, start=1):
                cells: Cells = [cell_text(value) for value in row]
                if not any(cells):
                    continue  # an empty spreadsheet row is layout, not data
                row_number = header_row + offset
                _check_nul(file_name, f"sheet '{sheet_name}', row {row_number}", cells)
                yield row_number, cells
                if progress and offset % 5000 == 0:
                    progress((sheet_index + offset / total) / len(names))

        yield Sheet(sheet_name, headers, data_rows(), header_row=header_row)


def read_xls(file_name: str, handle: BinaryIO, progress: Progress | None = None) -> Iterator[Sheet]:
    import xlrd

    try:
        # Not on demand: every sheet is parsed here, so a damaged one fails before any row.
        book = xlrd.open_workbook(file_contents=handle.read())
    except Exception as error:
        raise _damaged(file_name, error) from error
    finally:
        handle.seek(0)

    def text(cell: xlrd.sheet.Cell) -> str:
        if cell.ctype == xlrd.XL_CELL_DATE:
            return cell_text(xlrd.xldate_as_datetime(cell.value, book.datemode))
        if cell.ctype == xlrd.XL_CELL_BOOLEAN:
            return cell_text(bool(cell.value))
        if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
            return ""
        return cell_text(cell.value)

    for sheet_index in range(book.nsheets):
        sheet = book.sheet_by_index(sheet_index)
        if sheet.nrows == 0:
            continue
        try:
            header_cells = [text(c) for c in sheet.row(0)]
        except Exception as error:
            raise _damaged(file_name, error, f"sheet '{sheet.name}'") from error
        headers = _workbook_headers(file_name, sheet.name, header_cells, 0, 1)

        def data_rows(
            sheet: xlrd.sheet.Sheet = sheet, sheet_index: int = sheet_index
        ) -> Iterator[tuple[int, Cells]]:
            for index in range(1, sheet.nrows):
                try:
                    cells: Cells = [text(cell) for cell in sheet.row(index)]
                except Exception as error:
                    location = f"sheet '{sheet.name}', row {index + 1}"
                    raise _damaged(file_name, error, location) from error
                if any(cells):
                    _check_nul(file_name, f"sheet '{sheet.name}', row {index + 1}", cells)
                    yield index + 1, cells
            if progress:
                progress((sheet_index + 1) / book.nsheets)

        yield Sheet(sheet.name, headers, data_rows())


class JsonNumber(str):
    """A JSON number kept as the literal the file had (`42.50` stays `42.50`)."""


def json_text(value: object) -> str | None:
    """The text of a JSON value: strings as they are, numbers as written, the rest as JSON."""
    if value is None:
        return None
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, str):
        return value
    return _compact_json(value)


def _compact_json(value: object) -> str:
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, dict):
        inner = ",".join(
            f"{json.dumps(key, ensure_ascii=False)}:{_compact_json(item)}"
            for key, item in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


_DECODER = json.JSONDecoder(
    parse_float=JsonNumber, parse_int=JsonNumber, object_pairs_hook=_object_without_duplicates
)


def _describe_json(value: object) -> str:
    if isinstance(value, JsonNumber):
        return "a number"
    return {str: "a string", list: "an array", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _records_to_rows(
    file_name: str,
    sheet: Sheet,
    records: Iterator[tuple[int, str, object]],
) -> Iterator[tuple[int, Cells]]:
    positions = {name: index for index, name in enumerate(sheet.headers)}
    for row_number, location, record in records:
        if not isinstance(record, dict):
            raise RejectedFile(
                file_name,
                "a record is not an object",
                location=location,
                expected="a JSON object",
                found=_describe_json(record),
            )
        cells: Cells = [None] * len(positions)
        for key, value in record.items():
            if key.strip() == "":
                raise RejectedFile(
                    file_name,
                    "a key is empty",
                    location=location,
                    expected="non-empty keys",
                    found='""',
                )
            index = positions.get(key)
            if index is None:
                index = positions[key] = len(sheet.headers)
                sheet.headers.append(key)
                cells.append(None)
            cells[index] = json_text(value)
        _check_nul(file_name, location, cells)
        yield row_number, cells


def _parse(file_name: str, text: str, location: str | None = None) -> object:
    try:
        return _DECODER.decode(text)
    except _DuplicateKey as duplicate:
        raise RejectedFile(
            file_name,
            f"the key '{duplicate.key}' appears twice in one object",
            location=location,
            expected="unique keys",
        ) from duplicate
    except json.JSONDecodeError as error:
        where = location or f"line {error.lineno}, column {error.colno}"
        raise RejectedFile(
            file_name, "invalid JSON", location=where, expected="valid JSON", found=error.msg
        ) from error


def _decode_utf8(file_name: str, data: bytes, line_offset: int = 0) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1 + line_offset
        raise RejectedFile(
            file_name,
            "undecodable bytes",
            location=f"line {line}",
            expected="UTF-8 (JSON is always UTF-8)",
            found=f"byte 0x{data[error.start]:02X}",
        ) from error


def read_json(
    file_name: str, handle: BinaryIO, progress: Progress | None = None
) -> Iterator[Sheet]:
    """An array of objects, or an object holding arrays of objects (one sheet per array)."""
    document = _parse(file_name, _decode_utf8(file_name, handle.read()))
    if progress:
        progress(0.5)
    if isinstance(document, list):
        arrays = {"": document}
    elif isinstance(document, dict):
        arrays = {
            key: value
            for key, value in document.items()
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        }
        if not arrays:
            raise RejectedFile(
                file_name,
                "no records found",
                expected="an array of objects, or an object holding one",
                found="an object without any array of objects",
            )
    else:
        raise RejectedFile(
            file_name,
            "no records found",
            expected="an array of objects, or an object holding one",
            found=_describe_json(document),
        )
    for key, items in arrays.items():
        sheet = Sheet(key, [], iter(()))
        label = f"'{key}' " if key else ""
        numbered = ((n, f"{label}record {n}", item) for n, item in enumerate(items, start=1))
        sheet.rows = _records_to_rows(file_name, sheet, numbered)
        yield sheet


def read_json_lines(
    file_name: str, handle: BinaryIO, size: int, progress: Progress | None = None
) -> Iterator[Sheet]:
    """One object per line, streamed: memory does not grow with the file."""

    def records() -> Iterator[tuple[int, str, object]]:
        number = 0
        for line_number, raw_line in enumerate(handle, start=1):
            if line_number == 1 and raw_line.startswith(b"\xef\xbb\xbf"):
                raw_line = raw_line[3:]
            if not raw_line.strip():
                continue
            number += 1
            location = f"line {line_number}"
            text = _decode_utf8(file_name, raw_line, line_number - 1)
            yield line_number, location, _parse(file_name, text, location)
            if progress and number % 5000 == 0:
                progress(min(1.0, handle.tell() / max(size, 1)))

    sheet = Sheet("", [], iter(()))
    sheet.rows = _records_to_rows(file_name, sheet, records())
    yield sheet
