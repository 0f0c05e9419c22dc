from __future__ import annotations

import datetime as dt

import pytest

from loaders.csv_copy import _sniff_delimiter
from loaders.json_reader import JsonNumber, json_text
from loaders.sheets import cell_text, column_letter


@pytest.mark.parametrize(
    ("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index: int, letter: str) -> None:
    assert column_letter(index) == letter


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (1.0, "1"),
        (0.8, "0.8"),
        (1e20, "1e+20"),
        (True, "TRUE"),
        (dt.date(2026, 9, 1), "2026-09-01"),
        (dt.datetime(2026, 9, 1, 0, 0), "2026-09-01"),
        (dt.datetime(2026, 9, 1, 8, 5, 3), "2026-09-01 08:05:03"),
        (dt.time(8, 30), "08:30:00"),
        (" Zoé ", " Zoé "),
    ],
)
def test_spreadsheet_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_json_text_keeps_literals_and_nesting() -> None:
    value = {"n": JsonNumber("1.50"), "s": "é", "l": [True, None]}
    assert json_text(value) == '{"n":1.50,"s":"é","l":[true,null]}'
    assert json_text(JsonNumber("-3e2")) == "-3e2"
    assert json_text(None) is None


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ("a;b;c\n1,5;2;3\n", ";"),
        ('a,b\n"x;y",2\n', ","),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ("only\n1\n", ","),
    ],
)
def test_delimiter_sniffing(sample: str, delimiter: str) -> None:
    assert _sniff_delimiter(sample) == delimiter
