"""CSV read by Python, every cell as written: for what PostgreSQL's COPY would alter or refuse.

PostgreSQL's CSV parser treats a quote character anywhere in a field as the start of a quoted
section, so `37°36'37.8"N` would land as `37°36'37.8N`; it cannot hold more than 1,600 columns
in a table; and it refuses a lone carriage return or a trailing delimiter. Python's `csv`
module, in strict mode, keeps such quotes as written and splits those lines like spreadsheet
programs do, and what it cannot split unambiguously (a quoted field that never closes, text
after a closing quote) it refuses, which the loader reports with the record and its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from loaders.csv_copy import CsvLayout
from loaders.errors import RejectedFile
from loaders.sheets import Cells, Progress, Sheet

# Excel's own limit; wider files exist only by accident, and each row stays one array.
MAX_COLUMNS = 16_384

# A cell may be as large as the file (the default limit of 128 KiB would refuse long texts).
csv.field_size_limit(1 << 30)


def check_width(file_name: str, headers: list[str]) -> None:
    if len(headers) > MAX_COLUMNS:
        raise RejectedFile(
            file_name,
            "the file has too many columns",
            location="line 1",
            expected=f"at most {MAX_COLUMNS:,} columns",
            found=f"{len(headers):,}",
        )


def read_csv(
    file_name: str,
    handle: BinaryIO,
    layout: CsvLayout,
    size: int = 0,
    progress: Progress | None = None,
) -> Sheet:
    """The file's data rows, numbered by record (the header is record 1), cells as written.

    A row may end with empty fields beyond the header (trailing delimiters): they land as the
    empty cells they are. Any other difference in width is refused, since no one could tell
    which column a value belongs to.
    """
    check_width(file_name, layout.headers)
    width = len(layout.headers)

    def rows() -> Iterator[tuple[int, Cells]]:
        handle.seek(layout.skip_bytes)
        text = io.TextIOWrapper(handle, encoding=layout.encoding, newline="")
        reader = csv.reader(text, delimiter=layout.delimiter, strict=True)
        first_line = 1
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                if number > 1:
                    extra = row[width:]
                    if len(row) < width or any(extra):
                        raise RejectedFile(
                            file_name,
                            "a blank line" if not row else "a row has the wrong number of fields",
                            location=f"record {number}, line {first_line}",
                            expected=f"{width} fields",
                            found=f"{len(row)}",
                        )
                    yield number, list(row)
                    if progress and size and number % 5000 == 0:
                        progress(min(1.0, handle.tell() / size))
                first_line = reader.line_num + 1
        except csv.Error as error:
            raise RejectedFile(
                file_name,
                "the CSV cannot be split into cells unambiguously",
                location=f"record {number + 1}, line {first_line}",
                expected="quotes that open a field and close it before a delimiter or line end",
                found=str(error),
            ) from error
        finally:
            text.detach()
            handle.seek(0)

    return Sheet("", list(layout.headers), rows())
