"""What every reader yields, whatever the format: sheets of numbered rows, cells as text.

A reader (`csv_reader`, `workbook_reader`, `ods_reader`, `json_reader`) turns a file into
`Sheet`s; `records` copies their rows into the file's partition as they come. The helpers here
are the ones several readers share: the text of a spreadsheet cell, the names of a header row,
the refusal of a NUL character (which no PostgreSQL text can hold).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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


def check_nul(file_name: str, location: str, cells: Cells) -> None:
    """Refuse a row with a NUL character in a cell, naming the row and the column."""
    for index, cell in enumerate(cells):
        if cell is not None and "\x00" in cell:
            raise RejectedFile(
                file_name,
                "a cell contains a NUL character",
                location=location,
                expected="text without NUL (0x00) characters",
                found=f"NUL in column {index + 1}",
            )


def workbook_headers(
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
