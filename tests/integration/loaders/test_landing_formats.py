"""Every supported format lands verbatim: real files, real server, read back cell for cell."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest
import xlwt

from tests.integration.conftest import Landing


def landed(landing: Landing, name: str, content: bytes | str, encoding: str = "utf-8") -> int:
    path = landing.drop(name, content, encoding)
    [result] = landing.ingest(path)
    assert result.status == "landed", result.message
    assert not path.exists(), "a landed file leaves the inbox"
    assert result.file_id is not None
    return result.file_id


def test_french_csv_in_windows_1252_with_crlf_and_quoted_newlines(landing: Landing) -> None:
    content = (
        "date_mesure;département;valeur;commentaire\r\n"
        '01/09/2026;Opérations;1 234,56;"ligne un\r\nligne deux; fin"\r\n'
        "02/09/2026;Café;12,5 %;\r\n"
        '03/09/2026;; ;"""cité"""\r\n'
    )
    file_id = landed(landing, "ventes.csv", content, "cp1252")
    assert landing.records(file_id) == [
        (
            "",
            2,
            {
                "date_mesure": "01/09/2026",
                "département": "Opérations",
                "valeur": "1 234,56",
                "commentaire": "ligne un\r\nligne deux; fin",
            },
        ),
        (
            "",
            3,
            {
                "date_mesure": "02/09/2026",
                "département": "Café",
                "valeur": "12,5 %",
                "commentaire": "",
            },
        ),
        (
            "",
            4,
            {
                "date_mesure": "03/09/2026",
                "département": "",
                "valeur": " ",
                "commentaire": '"cité"',
            },
        ),
    ]
    row = landing.file_row(file_id)
    assert (row["status"], row["row_count"], row["file_type"]) == ("landed", 3, "csv")
    assert row["landed_at"] is not None and row["archive_path"]
    assert landing.audit_actions(file_id) == ["received", "landed", "archived"]


@pytest.mark.parametrize("delimiter", [",", "\t", "|", ";"])
def test_delimiter_is_sniffed(landing: Landing, delimiter: str) -> None:
    rows = [["kpi", "value", "note"], ["revenue", "10.5", "a, b; c"], ["units", "3", ""]]
    text = "".join(
        delimiter.join(f'"{c}"' if any(d in c for d in ",;\t|") else c for c in row) + "\n"
        for row in rows
    )
    file_id = landed(landing, f"kpis-{ord(delimiter)}.csv", text)
    assert [record for _, _, record in landing.records(file_id)] == [
        {"kpi": "revenue", "value": "10.5", "note": "a, b; c"},
        {"kpi": "units", "value": "3", "note": ""},
    ]


def test_utf8_with_byte_order_mark(landing: Landing) -> None:
    file_id = landed(
        landing, "bom.csv", b"\xef\xbb\xbfname,city\nZo\xc3\xa9,\xc5\x81\xc3\xb3d\xc5\xba\n"
    )
    assert landing.records(file_id) == [("", 2, {"name": "Zoé", "city": "Łódź"})]


def test_declared_latin1(landing: Landing) -> None:
    landing.settings = landing.settings.model_copy(update={"csv_encoding": "latin-1"})
    file_id = landed(landing, "latin1.csv", "ville;pays\nSão Paulo;Brésil\n", "latin-1")
    assert landing.records(file_id) == [("", 2, {"ville": "São Paulo", "pays": "Brésil"})]


def test_xlsx_every_sheet_with_stable_names_for_blank_headers(landing: Landing) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Septembre"
    first.append(["Date", "FTE", "Name", None, "Active"])
    first.append([dt.date(2026, 9, 7), 0.8, "Zoé", "x", True])
    first.append([dt.datetime(2026, 9, 8, 14, 30), 1, None, None, False])
    for column, value in enumerate(["2026-09-21", 45000, "Noël"], start=1):
        first.cell(row=6, column=column, value=value)  # row 5 stays empty: layout, not data
    workbook.create_sheet("Vide")
    second = workbook.create_sheet("Octobre")
    second.append(["Date", "FTE"])
    second.append(["05/10/2026", "1,0"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    file_id = landed(landing, "hr.xlsx", buffer.getvalue())
    assert landing.records(file_id) == [
        ("Octobre", 2, {"Date": "05/10/2026", "FTE": "1,0"}),
        (
            "Septembre",
            2,
            {"Date": "2026-09-07", "FTE": "0.8", "Name": "Zoé", "column_D": "x", "Active": "TRUE"},
        ),
        (
            "Septembre",
            3,
            {
                "Date": "2026-09-08 14:30:00",
                "FTE": "1",
                "Name": "",
                "column_D": "",
                "Active": "FALSE",
            },
        ),
        (
            "Septembre",
            6,
            {"Date": "2026-09-21", "FTE": "45000", "Name": "Noël", "column_D": "", "Active": ""},
        ),
    ]
    sheets = landing.db.execute(
        "select sheet, headers, row_count from raw.sheets where file_id = %s order by sheet",
        (file_id,),
    ).fetchall()
    assert sheets == [
        ("Octobre", ["Date", "FTE"], 1),
        ("Septembre", ["Date", "FTE", "Name", "column_D", "Active"], 3),
    ]


def test_legacy_xls(landing: Landing) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for column, header in enumerate(["Date", "Amount", "Label"]):
        sheet.write(0, column, header)
    sheet.write(1, 0, dt.date(2026, 9, 1), date_style)
    sheet.write(1, 1, 1234.5)
    sheet.write(1, 2, "Épicerie")
    buffer = io.BytesIO()
    book.save(buffer)
    file_id = landed(landing, "legacy.xls", buffer.getvalue())
    assert landing.records(file_id) == [
        ("Data", 2, {"Date": "2026-09-01", "Amount": "1234.5", "Label": "Épicerie"})
    ]


def test_json_array_keeps_nested_values_and_number_literals(landing: Landing) -> None:
    content = (
        '[{"ticket_id": "T-1", "score": 4.50, "customer": {"name": "Zoé", "n": 1.0},'
        ' "tags": ["a", "b"], "closed_at": null, "ok": true},'
        ' {"ticket_id": "T-2", "score": "45", "extra": 7}]'
    )
    file_id = landed(landing, "tickets.json", content)
    assert landing.records(file_id) == [
        (
            "",
            1,
            {
                "ticket_id": "T-1",
                "score": "4.50",
                "customer": '{"name":"Zoé","n":1.0}',
                "tags": '["a","b"]',
                "closed_at": None,
                "ok": "true",
            },
        ),
        (
            "",
            2,
            {
                "ticket_id": "T-2",
                "score": "45",
                "customer": None,
                "tags": None,
                "closed_at": None,
                "ok": None,
                "extra": "7",
            },
        ),
    ]


def test_json_object_holding_arrays_lands_one_sheet_per_array(landing: Landing) -> None:
    content = json.dumps(
        {
            "export": {"generated_at": "2026-10-01T00:00:00Z"},
            "tickets": [{"id": 1}, {"id": 2}],
            "agents": [{"login": "zoe"}],
        }
    )
    file_id = landed(landing, "export.json", content)
    assert landing.records(file_id) == [
        ("agents", 1, {"login": "zoe"}),
        ("tickets", 1, {"id": "1"}),
        ("tickets", 2, {"id": "2"}),
    ]


def test_json_lines_streamed(landing: Landing) -> None:
    content = '{"a": 1, "b": {"c": [1, 2]}}\n\n{"a": 2.0}\r\n{"b": "x", "a": -3e2}\n'
    file_id = landed(landing, "events.jsonl", content)
    assert landing.records(file_id) == [
        ("", 1, {"a": "1", "b": '{"c":[1,2]}'}),
        ("", 3, {"a": "2.0", "b": None}),
        ("", 4, {"a": "-3e2", "b": "x"}),
    ]


def test_duplicate_content_is_recorded_not_landed_again(landing: Landing) -> None:
    first = landed(landing, "kpi.csv", "kpi,value\nrevenue,1\n")
    copy = landing.drop("kpi-copy.csv", "kpi,value\nrevenue,1\n")
    [result] = landing.ingest(copy)
    assert result.status == "duplicate"
    assert not copy.exists()
    row = landing.file_row(result.file_id)
    assert (row["status"], row["duplicate_of"]) == ("duplicate", first)
    assert landing.record_count(result.file_id) == 0
    assert landing.audit_actions(result.file_id) == ["received", "duplicate"]
