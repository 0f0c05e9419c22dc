"""Workbooks: every row as the text the spreadsheet shows, sheet by sheet.

.xlsx, .xlsm, .xlsb and .ods through calamine (`read_workbook`), legacy .xls through xlrd
(`read_xls`). An .ods file that calamine refuses has a reader of its own (`ods_reader.py`).

A reader library that trips over a damaged file (xlrd raises assertions and index errors on a
broken compound document) is reported as a damaged workbook, never as a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from loaders.errors import RejectedFile
from loaders.sheets import Cells, Progress, Sheet, cell_text, check_nul, workbook_headers


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
    from python_calamine import CalamineWorkbook  # workbooks only

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
        headers = workbook_headers(file_name, sheet_name, next(rows), first_column, header_row)

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
                check_nul(file_name, f"sheet '{sheet_name}', row {row_number}", cells)
                yield row_number, cells
                if progress and offset % 5000 == 0:
                    progress((sheet_index + offset / total) / len(names))

        yield Sheet(sheet_name, headers, data_rows(), header_row=header_row)


def read_xls(file_name: str, handle: BinaryIO, progress: Progress | None = None) -> Iterator[Sheet]:
    import xlrd  # legacy .xls only

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
        headers = workbook_headers(file_name, sheet.name, header_cells, 0, 1)

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
                    check_nul(file_name, f"sheet '{sheet.name}', row {index + 1}", cells)
                    yield index + 1, cells
            if progress:
                progress((sheet_index + 1) / book.nsheets)

        yield Sheet(sheet.name, headers, data_rows())
