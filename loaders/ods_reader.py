"""OpenDocument spreadsheets that calamine refuses, read from their XML with the standard library.

Gnumeric, among others, writes `content.xml` indented, with text between cells, which
calamine's parser does not accept. This reader streams that XML through defusedxml (no entity,
no external reference, no expansion bomb) and gives each cell the text calamine would: numbers
and dates from their typed attributes, text from its paragraphs, a merged-away cell empty.
Repeated empty rows and columns (a sheet is 1,048,576 rows by 16,384 columns on paper) are
counted, never expanded.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from loaders.errors import RejectedFile
from loaders.sheets import Cells, Progress, Sheet, cell_text, workbook_headers
from loaders.workbook_reader import read_workbook

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
# Beyond what any spreadsheet program holds: a file claiming more is not a spreadsheet.
MAX_COLUMNS = 16_384
MAX_ROWS = 1_048_576
_DURATION = re.compile(r"^-?P(?:\d+D)?T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _paragraph_text(element: ElementTree.Element) -> str:
    parts: list[str] = [element.text or ""]
    for child in element:
        if child.tag == f"{TEXT}s":
            parts.append(" " * int(child.get(f"{TEXT}c", "1")))
        elif child.tag == f"{TEXT}tab":
            parts.append("\t")
        elif child.tag == f"{TEXT}line-break":
            parts.append("\n")
        else:
            parts.append(_paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _cell_value(cell: ElementTree.Element) -> object:
    kind = cell.get(f"{OFFICE}value-type")
    if kind in ("float", "percentage", "currency"):
        return float(cell.get(f"{OFFICE}value", "nan"))
    if kind == "date":
        value = cell.get(f"{OFFICE}date-value", "")
        return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if kind == "time":
        match = _DURATION.match(cell.get(f"{OFFICE}time-value", ""))
        if match:
            hours, minutes, seconds = (float(group or 0) for group in match.groups())
            return dt.time(int(hours) % 24, int(minutes), int(seconds))
    if kind == "boolean":
        return cell.get(f"{OFFICE}boolean-value") == "true"
    paragraphs = [_paragraph_text(p) for p in cell if p.tag == f"{TEXT}p"]
    return "\n".join(paragraphs) if paragraphs else None


def _row_cells(row: ElementTree.Element) -> dict[int, str]:
    """The row's non-empty cells by column index; repeated empty cells only move the index."""
    cells: dict[int, str] = {}
    column = 0
    for cell in row:
        if cell.tag not in (f"{TABLE}table-cell", f"{TABLE}covered-table-cell"):
            continue
        repeat = int(cell.get(f"{TABLE}number-columns-repeated", "1"))
        text = cell_text(_cell_value(cell)) if cell.tag == f"{TABLE}table-cell" else ""
        if text:
            if column + repeat > MAX_COLUMNS:
                raise ValueError(f"more than {MAX_COLUMNS:,} columns")
            for offset in range(repeat):
                cells[column + offset] = text
        column += repeat
    return cells


def read_ods(file_name: str, handle: BinaryIO, progress: Progress | None = None) -> Iterator[Sheet]:
    """An .ods file: through calamine, like every workbook, or this reader if calamine fails."""
    from python_calamine import CalamineWorkbook  # workbooks only

    try:
        CalamineWorkbook.from_filelike(handle)
    except Exception:
        handle.seek(0)
        yield from read_opendocument(file_name, handle, progress)
        return
    handle.seek(0)
    yield from read_workbook(file_name, handle, progress)


def read_opendocument(
    file_name: str, handle: BinaryIO, progress: Progress | None = None
) -> Iterator[Sheet]:
    try:
        with zipfile.ZipFile(handle) as archive:
            content = archive.read("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise RejectedFile(file_name, "the spreadsheet cannot be read", found=str(error)) from error
    finally:
        handle.seek(0)
    sheets: list[tuple[str, list[tuple[int, dict[int, str]]]]] = []
    try:
        rows: list[tuple[int, dict[int, str]]] = []
        row_index = 0
        for event, element in SafeElementTree.iterparse(
            io.BytesIO(content), events=("start", "end")
        ):
            if event == "start" and element.tag == f"{TABLE}table":
                rows, row_index = [], 0
            elif event == "end" and element.tag == f"{TABLE}table-row":
                repeat = int(element.get(f"{TABLE}number-rows-repeated", "1"))
                cells = _row_cells(element)
                if cells:
                    if row_index + repeat > MAX_ROWS:
                        raise ValueError(f"more than {MAX_ROWS:,} rows")
                    rows.extend((row_index + offset, cells) for offset in range(repeat))
                row_index += repeat
                element.clear()
            elif event == "end" and element.tag == f"{TABLE}table":
                sheets.append((element.get(f"{TABLE}name", ""), rows))
                element.clear()
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise RejectedFile(
            file_name, "the spreadsheet cannot be read", found=f"content.xml: {error}"
        ) from error
    for position, (name, rows) in enumerate(sheets):
        if not rows:
            continue
        first_column = min(min(cells) for _, cells in rows)
        width = max(max(cells) for _, cells in rows) + 1 - first_column
        header_index, header_cells = rows[0]
        header = [header_cells.get(first_column + i, "") for i in range(width)]
        header_row = header_index + 1
        headers = workbook_headers(file_name, name, header, first_column, header_row)

        def data_rows(
            rows: list[tuple[int, dict[int, str]]] = rows,
            first_column: int = first_column,
            width: int = width,
            position: int = position,
        ) -> Iterator[tuple[int, Cells]]:
            for index, cells in rows[1:]:
                yield index + 1, [cells.get(first_column + i, "") for i in range(width)]
            if progress:
                progress((position + 1) / len(sheets))

        yield Sheet(name, headers, data_rows(), header_row=header_row)
