"""What `rempart sources suggest` reads from a file's cells, on its own."""

from __future__ import annotations

import re

import pytest

from flows.seeds.suggestion import date_order, decimal_separator, name_pattern, slug


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2026-10-01", "2026-10-02 14:30:00"], "ymd"),
        (["01/10/2026", "13/10/2026"], "dmy"),
        (["10/01/2026", "10/13/2026"], "mdy"),
        (["01.10.2026", "02.10.2026"], "dmy"),  # no day above 12: day first, with a note
    ],
)
def test_date_order_is_read_from_the_cells(values: list[str], expected: str) -> None:
    order, note = date_order(values)
    assert order == expected
    assert (note is not None) == (values[0] == "01.10.2026")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["24,10", "1 204,5", "12"], ","),
        (["24.10", "1,204.5", "12"], "."),
        (["12", "13"], "."),
    ],
)
def test_decimal_separator_is_read_from_the_cells(values: list[str], expected: str) -> None:
    assert decimal_separator(values) == expected


@pytest.mark.parametrize(
    ("file_name", "source", "other_months"),
    [
        ("magasin_lyon_2026-10.csv", "magasin_lyon", "magasin_lyon_2026-11.csv"),
        ("Web Metrics 2026.xlsx", "web_metrics", "Web Metrics 2027.xls"),
        ("calls-20261001.jsonl", "calls", "calls-20261101.json"),
    ],
)
def test_a_source_is_named_after_the_file_without_its_date(
    file_name: str, source: str, other_months: str
) -> None:
    name, pattern = name_pattern(file_name)
    assert name == source
    assert re.search(pattern, file_name, re.IGNORECASE)
    assert re.search(pattern, other_months, re.IGNORECASE)
    assert not re.search(pattern, "sales_fr_2026-10.csv", re.IGNORECASE)


def test_kpi_codes_are_plain_ascii() -> None:
    assert slug("Colis expédiés (J+1)") == "colis_expedies_j_1"
