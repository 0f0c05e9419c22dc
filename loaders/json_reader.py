"""JSON and JSON Lines: every record a row, every value the text the file had.

A JSON document is an array of objects (one sheet, named '') or an object holding arrays of
objects (one sheet per array, named by its key); JSON Lines holds one object per line and is
streamed. Each key becomes a header the first time it appears; numbers keep their literal
(`42.50` stays `42.50`), nested values land as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

from loaders.errors import RejectedFile
from loaders.sheets import Cells, Progress, Sheet, check_nul


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
        check_nul(file_name, location, cells)
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
