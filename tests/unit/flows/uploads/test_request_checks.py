"""The upload page's checks of a file's name, source and first bytes, on their own."""

from __future__ import annotations

import pytest

from flows.runtime.settings import load_settings
from flows.uploads.request_checks import Refused, safe_name, source_of
from loaders.formats import FileType, first_bytes_contradict


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
