"""Every rejection: a precise message, a quarantined file with its report, and no row landed."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from tests.integration.conftest import Landing


def _xlsx(extra: dict[str, bytes] | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["kpi", "value"])
    workbook.active.append(["revenue", 1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    if not extra:
        return buffer.getvalue()
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in extra.items():
            archive.writestr(name, data)
    return buffer.getvalue()


REJECTIONS: list[tuple[str, bytes, str]] = [
    (
        "empty.csv",
        b"",
        "empty.csv: the file is empty; expected a header and data rows, found 0 bytes",
    ),
    (
        "header_only.csv",
        b"kpi;value\r\n",
        "header_only.csv: the file has a header but no data rows; expected at least one data row",
    ),
    (
        "dup_headers.csv",
        b"kpi,value,kpi\na,1,b\n",
        "dup_headers.csv (line 1): the header 'kpi' appears twice; expected unique column headers, "
        "found 'kpi' in columns 1 and 3",
    ),
    (
        "empty_header.csv",
        b"kpi,,unit\na,1,b\n",
        "empty_header.csv (line 1): column 2 has an empty header; expected a name for every column",
    ),
    (
        "ragged.csv",
        b"kpi,value\nrevenue,1\nunits,2,3\n",
        "ragged.csv (record 3, line 3): a row has the wrong number of fields; expected 2 fields, "
        "found 3",
    ),
    (
        "short.csv",
        b'kpi,value,unit\n"multi\nline",1,EUR\nunits,2\n',
        "short.csv (record 3, line 4): a row has the wrong number of fields; expected 3 fields, "
        "found 2",
    ),
    (
        "blank_line.csv",
        b"kpi,value\nrevenue,1\n\nunits,2\n",
        "blank_line.csv (record 3, line 3): a blank line; expected 2 fields, found 0",
    ),
    (
        "unclosed.csv",
        b'a,b\n1,2\n3,"never closed\n4,5\n',
        "unclosed.csv (record 3, line 3): the CSV cannot be split into cells unambiguously",
    ),
    (
        "after_quote.csv",
        b'a,b\n1,"two"x\n',
        "after_quote.csv (record 2, line 2): the CSV cannot be split into cells unambiguously",
    ),
    (
        "too_wide.csv",
        ",".join(f"c{i}" for i in range(16_385)).encode() + b"\n",
        "too_wide.csv (line 1): the file has too many columns; expected at most 16,384 "
        "columns, found 16,385",
    ),
    (
        "nul.csv",
        b"kpi,value\nrevenue,1\x002\n",
        "nul.csv (line 2, column 10): the file contains a NUL byte",
    ),
    (
        "undecodable.csv",
        b"kpi,value\nrevenue,1\n\x81\x8d,2\n",
        "undecodable.csv (line 3, column 1): undecodable bytes; expected text in UTF-8 or "
        "Windows-1252, found byte 0x81",
    ),
    (
        "fake.xlsx",
        b"kpi,value\nrevenue,1\n",
        "fake.xlsx: the extension says .xlsx but the content is not a workbook; expected a zip "
        "archive (an Office Open XML workbook), found text",
    ),
    (
        "image.csv",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
        "image.csv: the extension says .csv but the content is not text; "
        "expected text, found a PNG image",
    ),
    ("addin.xlam", _xlsx(), "addin.xlam: macro-enabled templates and add-ins are not accepted"),
    (
        "hidden_macros.xlsx",
        _xlsx({"xl/vbaProject.bin": b"\x00" * 64}),
        "hidden_macros.xlsx: the workbook carries macros, which are not accepted; expected a "
        "workbook without VBA, found xl/vbaProject.bin",
    ),
    (
        "bomb.xlsx",
        _xlsx({"xl/media/padding.bin": b"\x00" * (64 << 20)}),
        "bomb.xlsx: the workbook expands suspiciously when unzipped (zip bomb?)",
    ),
    ("notes.docx", b"PK\x03\x04", "notes.docx: unsupported file type"),
    (
        "broken.json",
        b'[{"a": 1}, {"a": 2,}]',
        "broken.json (line 1, column 20): invalid JSON; expected valid JSON, found ",
    ),
    (
        "scalars.json",
        b"[1, 2]",
        "scalars.json (record 1): a record is not an object; "
        "expected a JSON object, found a number",
    ),
    (
        "dupkey.jsonl",
        b'{"a": 1}\n{"a": 2, "a": 3}\n',
        "dupkey.jsonl (line 2): the key 'a' appears twice in one object; expected unique keys",
    ),
    (
        "latin1.json",
        '[{"ville": "Brésil"}]'.encode("latin-1"),
        "latin1.json (line 1): undecodable bytes; expected UTF-8 (JSON is always UTF-8), "
        "found byte 0xE9",
    ),
    (
        "nothing.json",
        b'{"export": {"rows": 0}}',
        "nothing.json: no records found; expected an array of objects, or an object holding one",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "message"), REJECTIONS, ids=[name for name, _, _ in REJECTIONS]
)
def test_rejected_file_is_quarantined_with_its_reason(
    landing: Landing, name: str, content: bytes, message: str
) -> None:
    path = landing.drop(name, content)
    [result] = landing.ingest(path)

    assert result.status == "failed"
    assert result.message.startswith(message), result.message
    assert not path.exists()
    quarantined = landing.settings.quarantine_dir / name
    assert quarantined.read_bytes() == content
    report = landing.quarantine_report(name)
    assert report["message"] == result.message
    assert report["file"] == name
    row = landing.file_row(result.file_id)
    assert (row["status"], row["error"], row["row_count"]) == ("failed", result.message, None)
    assert landing.record_count(result.file_id) == 0
    assert landing.audit_actions(result.file_id) == ["received", "rejected"]


def test_size_limit_is_configurable(landing: Landing) -> None:
    landing.settings = landing.settings.model_copy(update={"max_file_size_mb": 1})
    path = landing.drop("big.csv", "kpi,value\n" + "revenue,1\n" * 120_000)
    [result] = landing.ingest(path)
    assert result.status == "failed"
    assert result.message == (
        "big.csv: the file is too large; expected at most 1,048,576 bytes "
        "(REMPART_MAX_FILE_SIZE_MB), found 1,200,010 bytes"
    )


def test_declared_utf8_refuses_windows_1252(landing: Landing) -> None:
    landing.settings = landing.settings.model_copy(update={"csv_encoding": "utf-8"})
    path = landing.drop("declared.csv", "ville;pays\nSão Paulo;Brésil\nRio;Brésil\n", "cp1252")
    [result] = landing.ingest(path)
    assert result.message == (
        "declared.csv (line 2, column 2): undecodable bytes; expected text in UTF-8, "
        "found byte 0xE3"
    )


def test_a_bad_file_does_not_stop_the_good_ones(landing: Landing) -> None:
    good = landing.drop("a_good.csv", "kpi,value\nmargin,17\n")
    bad = landing.drop("b_bad.csv", "kpi,value\nmargin,1,2\n")
    also_good = landing.drop("c_good.json", '[{"kpi": "margin"}]')
    results = landing.ingest(good, bad, also_good)
    assert [r.status for r in results] == ["landed", "failed", "landed"]
