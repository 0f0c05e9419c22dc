"""When PostgreSQL's COPY may parse a CSV: only where it keeps every cell as Python's csv does."""

from __future__ import annotations

import csv
import io

import pytest

from loaders.csv_copy import CsvLayout, copy_keeps_cells

CASES = [
    (b'a,b\n"x, 1",2\n', True),
    (b'a,b\n"a ""quoted"" b",c\n', True),
    (b'a,b\n"line\nbreak",1\n', True),
    (b"a,b\n1,2", True),
    (b"a,b\nx\\.,2\n", True),
    (b"a,b\n37\xc2\xb036'37.8\"N,ok\n", False),  # a quote inside an unquoted field
    (b'a,b\nx,ab",c\n', False),  # COPY would open a quoted section here
    (b'a,b\n"ab"cd,1\n', False),  # text after a closing quote
    (b'a,b\n"never closed,1\n', False),
    (b"a,b\n\\.\n1,2\n", False),  # the end-of-data marker of older servers
]


@pytest.mark.parametrize(("content", "expected"), CASES)
def test_copy_is_used_only_where_it_keeps_every_cell(content: bytes, expected: bool) -> None:
    layout = CsvLayout("utf-8", ",", ["a", "b"], 0)
    assert copy_keeps_cells(io.BytesIO(content), layout) is expected


def test_a_tab_delimiter_counts_as_a_field_edge() -> None:
    content = b'a\tb\n"x\ty"\t"2"\n'
    assert list(csv.reader(io.StringIO(content.decode()), delimiter="\t"))[1] == ["x\ty", "2"]
    assert copy_keeps_cells(io.BytesIO(content), CsvLayout("utf-8", "\t", ["a", "b"], 0))
