"""What `rempart sources suggest` reads from a file's cells, and the upload page's checks of a
file name, on their own."""

from __future__ import annotations

import re

import pytest

from flows.runtime.settings import load_settings
from flows.seeds.suggestion import date_order, decimal_separator, name_pattern, slug
from flows.uploads.request_checks import Refused, safe_name, source_of
from loaders.formats import FileType, first_bytes_contradict


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


@pytest.mark.parametrize(
    "name", ["../sales_fr_2026-11.csv", ".hidden.csv", "a/b.csv", "", "sales_fr_2026-11.exe"]
)
def test_the_upload_page_refuses_names_that_are_not_plain_inbox_files(name: str) -> None:
    with pytest.raises(Refused):
        safe_name(name)


def test_an_upload_belongs_to_the_source_its_name_matches() -> None:
    settings = load_settings()
    assert safe_name("sales_fr_2026-11.csv") == "sales_fr_2026-11.csv"
    found = source_of(settings, "sales_fr_2026-11.csv")
    assert found is not None and (found.kind, found.department) == ("sales_fr", "sales")
    assert source_of(settings, "holiday_photos.csv") is None


@pytest.mark.parametrize(
    ("file_type", "head", "found"),
    [
        (FileType.XLSX, b"PK\x03\x04\x14\x00\x06\x00", None),
        (FileType.XLSX, b"date;kpi", "text"),
        (FileType.XLS, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", None),
        (FileType.CSV, b"date;kpi", None),
        (FileType.CSV, b"\xff\xfed\x00a\x00t\x00", None),  # UTF-16 text
        (FileType.CSV, b"PK\x03\x04\x14\x00\x06\x00", "a zip archive"),
        (FileType.JSON, b"%PDF-1.7", "a PDF document"),
    ],
)
def test_an_upload_is_stopped_as_soon_as_its_first_bytes_contradict_its_extension(
    file_type: FileType, head: bytes, found: str | None
) -> None:
    assert first_bytes_contradict(file_type, head) == found
