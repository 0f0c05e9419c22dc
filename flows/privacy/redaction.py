"""A source file rewritten without some of its rows, in its own format, the rest as it was.

The rows are named as the loader numbered them when it landed the file (`raw.records`):

* CSV: the record number (the header is record 1). The file is re-split exactly as the
  loader split it (same encoding, delimiter, byte-order mark), and every kept record is
  written back as the very text it was read from: quoting, line ends and all.
* JSON Lines: the line number; the other lines are kept byte for byte.
* JSON: the record's position in its array; the other records are kept as written, joined
  by the separator the file used.
* .xlsx and .xlsm: the spreadsheet row, emptied (an empty row is layout, skipped when the
  file is read), so every other row keeps its number. Formulas are saved as the values
  they had (those are what was landed); macros are kept.
* .ods: the spreadsheet row of content.xml, emptied likewise.

Legacy .xls and binary .xlsb have no writer here: `Unrewritable` says so, and the caller
destroys that archived copy instead of keeping the person in it.

`read_rows` reads a file back as the loader reads it, one row at a time, and
`rows_fingerprint` sums rows up per sheet, so the caller can check the rewrite holds exactly
the rows it keeps, without holding them, before it replaces anything.
"""

from __future__ import annotations

import codecs
import copy
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from xml.etree import ElementTree

from defusedxml import ElementTree as SafeElementTree

from loaders.checksum import digest_file
from loaders.csv_copy import inspect_csv
from loaders.csv_reader import read_csv
from loaders.formats import FileType
from loaders.records import read_sheets

Rows = dict[str, set[int]]  # sheet -> row numbers

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


class Unrewritable(RuntimeError):
    """This file's format cannot be written back here; the message says which."""


def without_rows(
    file_type: FileType, file_name: str, data: bytes, rows: Rows, csv_encoding: str = "auto"
) -> bytes:
    if file_type is FileType.CSV:
        return _csv_without(file_name, data, rows.get("", set()), csv_encoding)
    if file_type is FileType.JSONL:
        return _lines_without(data, rows.get("", set()))
    if file_type is FileType.JSON:
        return _json_without(data, rows)
    if file_type in (FileType.XLSX, FileType.XLSM):
        return _workbook_without(data, rows, keep_vba=file_type is FileType.XLSM)
    if file_type is FileType.ODS:
        return _opendocument_without(data, rows)
    raise Unrewritable(f"a .{file_type.value} file cannot be rewritten here")


class _RecordedLines:
    """The lines a csv reader takes, kept until the caller collects them: the raw text of
    each record, however many lines its quoted fields span."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _RecordedLines:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line

    def collect(self) -> str:
        text, self.taken = "".join(self.taken), []
        return text


def _csv_without(file_name: str, data: bytes, drop: set[int], csv_encoding: str) -> bytes:
    handle = io.BytesIO(data)
    layout = inspect_csv(file_name, handle, digest_file(handle, inspect_text=True), csv_encoding)
    text = io.TextIOWrapper(
        io.BytesIO(data[layout.skip_bytes :]), encoding=layout.encoding, newline=""
    )
    lines = _RecordedLines(iter(text))
    encoder = codecs.getincrementalencoder(layout.encoding)()
    kept = [data[: layout.skip_bytes]]
    for number, _ in enumerate(csv.reader(lines, delimiter=layout.delimiter, strict=True), 1):
        record = lines.collect()
        if number not in drop:
            kept.append(encoder.encode(record))
    kept.append(encoder.encode("", final=True))
    return b"".join(kept)


def _lines_without(data: bytes, drop: set[int]) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(line for number, line in enumerate(lines, 1) if number not in drop)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _array_without(text: str, start: int, drop: set[int]) -> tuple[str, int]:
    """The array at `start` with the records at these positions (from 1) left out, and the
    index after it. Kept records are copied as written."""
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    index = _skip_space(text, start + 1)
    while text[index] != "]":
        _, end = decoder.raw_decode(text, index)
        spans.append((index, end))
        index = _skip_space(text, end)
        if text[index] == ",":
            index = _skip_space(text, index + 1)
    close = index
    if not spans:
        return text[start : close + 1], close + 1
    separator = text[spans[0][1] : spans[1][0]] if len(spans) > 1 else ",\n"
    kept = [text[a:b] for number, (a, b) in enumerate(spans, 1) if number not in drop]
    opening = text[start : spans[0][0]]
    closing = text[spans[-1][1] : close + 1]
    return opening + separator.join(kept) + closing, close + 1


def _json_without(data: bytes, rows: Rows) -> bytes:
    bom = data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    index = _skip_space(text, 0)
    if text[index] == "[":
        array, end = _array_without(text, index, rows.get("", set()))
        out = text[:index] + array + text[end:]
    else:
        # An object holding arrays of records: walk its members, rewrite the named arrays.
        decoder = json.JSONDecoder()
        parts = [text[: index + 1]]
        position = index + 1
        while True:
            key_start = _skip_space(text, position)
            if text[key_start] == ",":
                key_start = _skip_space(text, key_start + 1)
            if text[key_start] == "}":
                parts.append(text[position:])
                break
            key, key_end = decoder.raw_decode(text, key_start)
            value_start = _skip_space(text, _skip_space(text, key_end) + 1)
            parts.append(text[position:value_start])
            if text[value_start] == "[" and key in rows:
                array, value_end = _array_without(text, value_start, rows[key])
                parts.append(array)
            else:
                _, value_end = decoder.raw_decode(text, value_start)
                parts.append(text[value_start:value_end])
            position = value_end
        out = "".join(parts)
    return (codecs.BOM_UTF8 if bom else b"") + out.encode("utf-8")


def _workbook_without(data: bytes, rows: Rows, keep_vba: bool) -> bytes:
    import openpyxl  # workbooks only

    workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True, keep_vba=keep_vba)
    for sheet_name, numbers in rows.items():
        sheet = workbook[sheet_name]
        for number in numbers:
            for cell in sheet[number]:
                cell.value = None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _emptied(row: ElementTree.Element) -> None:
    attributes = {k: v for k, v in row.attrib.items() if k != f"{TABLE}number-rows-repeated"}
    row.clear()
    row.attrib.update(attributes)
    ElementTree.SubElement(row, f"{TABLE}table-cell")


def _opendocument_without(data: bytes, rows: Rows) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    content = source.read("content.xml")
    # Keep the document's own prefixes (office:, table:, ...): readers look for them.
    for _, (prefix, uri) in SafeElementTree.iterparse(io.BytesIO(content), events=("start-ns",)):
        ElementTree.register_namespace(prefix, uri)
    root = SafeElementTree.fromstring(content)
    parents = {child: parent for parent in root.iter() for child in parent}
    for table in root.iter(f"{TABLE}table"):
        drop = rows.get(table.get(f"{TABLE}name", ""), set())
        number = 0
        # Rows in document order (header rows and row groups included), as the reader
        # numbers them; numbered before any is split, so splitting moves no number.
        for row in list(table.iter(f"{TABLE}table-row")):
            repeat = int(row.get(f"{TABLE}number-rows-repeated", "1"))
            first, number = number + 1, number + repeat
            hits = {n for n in drop if first <= n <= number}
            if not hits:
                continue
            # A group of repeated rows holding one to erase: split into single rows.
            parent = parents[row]
            position = list(parent).index(row)
            parent.remove(row)
            for offset in range(repeat):
                single = copy.deepcopy(row)
                single.attrib.pop(f"{TABLE}number-rows-repeated", None)
                if first + offset in hits:
                    _emptied(single)
                parent.insert(position + offset, single)
    rewritten = ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            body = rewritten if entry.filename == "content.xml" else source.read(entry)
            target.writestr(entry, body, compress_type=entry.compress_type)
    return out.getvalue()


def read_rows(
    file_type: FileType, file_name: str, data: bytes, csv_encoding: str = "auto"
) -> Iterator[tuple[str, int, dict[str, str]]]:
    """The file's data rows as the loader reads them, one at a time, in file order:
    (sheet, row number, {header: cell}) with empty cells left out."""
    handle: BinaryIO = io.BytesIO(data)
    if file_type is FileType.CSV:
        layout = inspect_csv(
            file_name, handle, digest_file(handle, inspect_text=True), csv_encoding
        )
        sheets = iter([read_csv(file_name, handle, layout)])
    else:
        sheets = read_sheets(file_name, handle, file_type, len(data))
    for sheet in sheets:
        for number, cells in sheet.rows:
            # Paired as it comes: JSON headers only ever grow, by appending.
            yield sheet.name, number, row_as_dict(sheet.headers, cells)


def landed_rows(
    file_type: FileType, file_name: str, data: bytes, csv_encoding: str = "auto"
) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """`read_rows`, sheet by sheet, in memory: for small files and tests."""
    found: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for sheet, number, row in read_rows(file_type, file_name, data, csv_encoding):
        found.setdefault(sheet, []).append((number, row))
    return found


def rows_fingerprint(rows: Iterable[tuple[str, dict[str, str]]]) -> dict[str, tuple[int, str]]:
    """Per sheet, how many rows and a SHA-256 of them in order: two sequences of rows compared
    without holding either."""
    digests: dict[str, tuple[int, object]] = {}
    for sheet, row in rows:
        count, digest = digests.get(sheet, (0, hashlib.sha256()))
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        digests[sheet] = (count + 1, digest)
    return {sheet: (count, digest.hexdigest()) for sheet, (count, digest) in digests.items()}


def row_as_dict(headers: list[str], cells: list[str | None]) -> dict[str, str]:
    return {header: cell for header, cell in zip(headers, cells, strict=False) if cell}
