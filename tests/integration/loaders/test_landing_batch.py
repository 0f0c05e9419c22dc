"""One batch of awkward files from other tools: each ends landed or failed with its reason, in
one run, with no traceback, and what lands is what the file holds, cell for cell."""

from __future__ import annotations

import csv
import io
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from flows.runtime.settings import PROJECT_DIR
from loaders import json_reader
from tests.conftest import run_rempart
from tests.integration.conftest import Landing

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "other_tools"


def _corrupt_xls() -> bytes:
    """A real .xls whose first FAT sector (the compound document's sector chain) is garbage."""
    data = bytearray((FIXTURES / "libreoffice.xls").read_bytes())
    first_fat_sector = struct.unpack_from("<I", data, 76)[0]
    offset = (first_fat_sector + 1) * 512
    data[offset : offset + 512] = b"\xfe\xff\xff\xff" * 128
    return bytes(data)


def _wide_csv(columns: int) -> bytes:
    header = ",".join(f"col{i}" for i in range(columns))
    rows = [",".join(f"r{r}c{i}" for i in range(columns)) for r in range(4)]
    return ("\n".join([header, *rows]) + "\n").encode()


# Quotes inside unquoted fields (kept as written by Python's csv module and spreadsheets), a
# line ended by a lone carriage return among newlines, a trailing delimiter, a quoted field
# with a delimiter and an escaped quote, and a last line without a newline.
AWKWARD_CSV = (
    b"site,position,note\n"
    b"Livermore,37\xc2\xb036'37.8\"N 121\xc2\xb02'17.9\"W,ok\n"
    b'Paris,48\xc2\xb051\'24"N,"a, ""quoted"" note"\n'
    b"Lyon,45.76,ends with CR\r"
    b"Nice,43.7,trailing,\n"
    b"Brest,48.39,last"
)


def _python_csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def _landed_cells(landing: Landing, file_id: int) -> list[tuple[str, int, list[str]]]:
    return [
        (sheet, number, cells)
        for sheet, number, cells in landing.db.execute(
            "select sheet, row_number, cells from raw.records where file_id = %s "
            "order by sheet, row_number",
            (file_id,),
        ).fetchall()
    ]


def _registry(landing: Landing, name: str) -> dict[str, object]:
    row = landing.db.execute(
        "select file_id, status, error from raw.files where file_name = %s "
        "order by file_id desc limit 1",
        (name,),
    ).fetchone()
    assert row is not None, f"{name} is not in the registry"
    return {"file_id": row[0], "status": row[1], "error": row[2]}


def test_one_batch_of_odd_files_lands_or_fails_each_with_no_traceback(landing: Landing) -> None:
    ordinary = [
        (f"ordinary_{n}.csv", f"date,kpi,value\n2026-09-0{n},revenue,{n}0.5\n".encode())
        for n in (1, 2, 3)
    ]
    batch = [
        ("wide.csv", _wide_csv(10_000)),
        ordinary[0],
        ("corrupt.xls", _corrupt_xls()),
        ("coordinates.csv", AWKWARD_CSV),
        ordinary[1],
        ("libreoffice.ods", (FIXTURES / "libreoffice.ods").read_bytes()),
        ("pyxlsbwriter.xlsb", (FIXTURES / "pyxlsbwriter.xlsb").read_bytes()),
        ordinary[2],
    ]
    for name, content in batch:
        landing.drop(name, content)
    completed = run_rempart("ingest", env=landing.env(), check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 3, output
    assert "Traceback" not in output

    statuses = {name: _registry(landing, name)["status"] for name, _ in batch}
    assert statuses == {name: "landed" for name, _ in batch} | {"corrupt.xls": "failed"}
    corrupt = _registry(landing, "corrupt.xls")
    assert "corrupt.xls: the workbook is damaged and cannot be read" in str(corrupt["error"])
    assert (landing.settings.quarantine_dir / "corrupt.xls.error.json").exists()
    assert not any(landing.inbox.iterdir()), "every file left the inbox"

    for name, content in batch:
        if name.endswith(".csv"):
            file_id = int(_registry(landing, name)["file_id"])
            _header, *rows = _python_csv_rows(content)
            assert _landed_cells(landing, file_id) == [
                ("", number, row) for number, row in enumerate(rows, start=2)
            ], name
    coordinates = _landed_cells(landing, int(_registry(landing, "coordinates.csv")["file_id"]))
    assert coordinates[0][2][1] == "37°36'37.8\"N 121°2'17.9\"W"
    assert coordinates[-1][2] == ["Brest", "48.39", "last"]

    xlsb = _landed_cells(landing, int(_registry(landing, "pyxlsbwriter.xlsb")["file_id"]))
    assert xlsb == [
        ("Ventes", 2, ["2026-09-01", "revenue", "12.5"]),
        ("Ventes", 3, ["2026-09-02", "units", "3"]),
    ]


def test_copy_keeps_quotes_that_postgres_alone_would_strip(landing: Landing) -> None:
    """Files PostgreSQL's COPY would alter go through Python's reader; clean ones stay on COPY,
    and both land the same cells."""
    content = b'id,text\n1,"clean, quoted"\n2,plain\n3,mid"quote\n'
    path = landing.drop("mid_quote.csv", content)
    [result] = landing.ingest(path)
    assert result.status == "landed", result.message
    assert [cells for _, _, cells in _landed_cells(landing, result.file_id)] == [
        ["1", "clean, quoted"],
        ["2", "plain"],
        ["3", 'mid"quote'],
    ]


def test_an_unforeseen_reader_failure_fails_that_file_alone(
    landing: Landing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader library's bug (here an assertion) fails its file with a one-line reason that
    names the log holding the trace; the next file lands."""

    def broken_reader(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("sector chain ends early")

    monkeypatch.setattr(json_reader, "read_json", broken_reader)
    bad = landing.drop("assertion.json", b'[{"kpi": "revenue", "value": 1}]')
    good = landing.drop("after_assertion.csv", b"kpi,value\nrevenue,42\n")
    first, second = landing.ingest(bad, good)
    assert first.status == "failed"
    assert first.message.startswith(
        "assertion.json: the file could not be landed, found AssertionError: sector chain ends "
        "early; the full trace is in "
    )
    trace = Path(first.message.rsplit("the full trace is in ", 1)[1])
    assert trace.is_relative_to(landing.settings.state_dir)
    assert "Traceback" in trace.read_text() and "broken_reader" in trace.read_text()
    assert landing.record_count(first.file_id) == 0
    assert second.status == "landed"


WORKBOOKS = {
    "libreoffice.xlsx",
    "libreoffice.xls",
    "libreoffice.ods",
    "gnumeric.xlsx",
    "gnumeric.xls",
    "gnumeric.ods",
}
EXPECTED_SALES = [
    ["2026-09-01", "revenue", "Ventes", "1234.5", "3", "3703.5"],
    ["2026-09-02", "revenue", "Ventes", "99.99", "2", "199.98"],
    ["2026-09-03 14:30:00", "units", "Support", "7", "1", "2.33"],
    ["2026-09-04", "note", "Merged across", "", "", "3905.81"],
]


@pytest.mark.parametrize("fixture", sorted(WORKBOOKS))
def test_workbooks_written_by_other_programs_land_cell_for_cell(
    landing: Landing, fixture: str
) -> None:
    """Formulas land as the value their program computed, dates in ISO 8601, a merged range
    as its first cell, empty trailing rows not at all, text as written."""
    path = landing.drop(fixture, (FIXTURES / fixture).read_bytes())
    [result] = landing.ingest(path)
    assert result.status in ("landed", "duplicate"), result.message
    # Another test of the session's shared database may have landed this fixture first.
    file_id = _registry(landing, fixture)["file_id"] if result.status == "duplicate" else None
    if file_id is not None:
        file_id = landing.file_row(int(file_id))["duplicate_of"]
    landed = _landed_cells(landing, int(file_id or result.file_id))
    assert [(sheet, number) for sheet, number, _ in landed] == [
        ("Notes", 2),
        ("Notes", 3),
        ("Ventes", 2),
        ("Ventes", 3),
        ("Ventes", 4),
        ("Ventes", 5),
    ]
    assert [cells for sheet, _, cells in landed if sheet == "Ventes"] == EXPECTED_SALES
    assert [cells for sheet, _, cells in landed if sheet == "Notes"] == [
        ["a", 'guillemets "inside" and ; delimiter'],
        ["b", "0012"],
    ]


def test_xlsb_and_xlsm_with_vba_are_refused_as_such(landing: Landing, tmp_path: Path) -> None:
    with_vba = tmp_path / "with_vba.xlsb"
    shutil.copy(FIXTURES / "pyxlsbwriter.xlsb", with_vba)
    with zipfile.ZipFile(with_vba, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 64)
    for name in ("macros.xlsb", "macros.xlsm"):
        source = with_vba if name.endswith(".xlsb") else FIXTURES / "libreoffice.xlsx"
        content = source.read_bytes()
        if name.endswith(".xlsm"):
            buffer = io.BytesIO(content)
            with zipfile.ZipFile(buffer, "a") as archive:
                archive.writestr("xl/vbaProject.bin", b"\x00" * 64)
            content = buffer.getvalue()
        [result] = landing.ingest(landing.drop(name, content))
        assert result.status == "failed"
        assert result.message == (
            f"{name}: the workbook carries macros, which are not accepted; expected a workbook "
            "without VBA, found xl/vbaProject.bin"
        )
    buffer = io.BytesIO((FIXTURES / "gnumeric.xlsx").read_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("customXml/note.xml", b"<note>no VBA here</note>")
    plain = landing.drop("plain.xlsm", buffer.getvalue())
    [result] = landing.ingest(plain)
    assert result.status == "landed", result.message
