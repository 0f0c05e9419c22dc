"""What a benchmark prints: progress on stderr, verdicts, and aligned tables on stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MB = 1_000_000  # bytes: the benchmarks' megabyte


def progress(message: str) -> None:
    """A line of progress, on stderr: stdout holds the results alone."""
    print(message, file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    """A target met or missed: printed, it never changes the exit status."""
    return "PASS" if ok else "MISS"


@dataclass(frozen=True)
class Column:
    title: str = ""
    align: str = "<"  # "<" or ">"
    width: int | None = None  # None: as wide as its widest cell


def format_table(
    columns: Sequence[Column], rows: Iterable[Sequence[str]], *, rule: bool = False
) -> str:
    """Rows of text cells in columns two spaces apart, under a header line when the columns
    have titles (underlined by a line of dashes with `rule`)."""
    cells = [list(row) for row in rows]
    widths = [
        column.width
        if column.width is not None
        else max([len(column.title), *(len(row[index]) for row in cells)])
        for index, column in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            f"{value:{column.align}{width}}"
            for value, column, width in zip(values, columns, widths, strict=True)
        ).rstrip()

    lines = []
    if any(column.title for column in columns):
        lines.append(line([column.title for column in columns]))
        if rule:
            lines.append("-" * len(lines[0]))
    lines += [line(row) for row in cells]
    return "\n".join(lines)
