"""Source files rewritten without some rows: every other row reads back as it was landed,
in files other tools wrote (LibreOffice, Gnumeric) and in CSV dialects the loader accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.privacy.redaction import Unrewritable, landed_rows, without_rows
from flows.runtime.settings import PROJECT_DIR
from loaders.formats import EXTENSIONS

OTHER_TOOLS = PROJECT_DIR / "tests" / "fixtures" / "other_tools"


def _check_rewrite(name: str, data: bytes) -> bytes:
    """Drop the second data row of every sheet; the rest must read back unchanged."""
    file_type = EXTENSIONS[Path(name).suffix]
    before = landed_rows(file_type, name, data)
    drop = {sheet: {rows[1][0]} for sheet, rows in before.items() if len(rows) > 1}
    assert drop, "the file needs sheets of two rows or more"
    rewritten = without_rows(file_type, name, data, drop)
    after = landed_rows(file_type, name, rewritten)
    for sheet, rows in before.items():
        kept = [row for number, row in rows if number not in drop.get(sheet, set())]
        assert [row for _, row in after[sheet]] == kept, sheet
        assert len(after[sheet]) == len(rows) - len(drop.get(sheet, set()))
    return rewritten


@pytest.mark.parametrize(
    "name", ["libreoffice.xlsx", "gnumeric.xlsx", "libreoffice.ods", "gnumeric.ods"]
)
def test_workbooks_other_tools_wrote_keep_every_other_row(name: str) -> None:
    before = landed_rows(EXTENSIONS[Path(name).suffix], name, (OTHER_TOOLS / name).read_bytes())
    rewritten = _check_rewrite(name, (OTHER_TOOLS / name).read_bytes())
    # Emptied, not deleted: the rows after it keep their numbers.
    after = landed_rows(EXTENSIONS[Path(name).suffix], name, rewritten)
    for sheet, rows in after.items():
        assert {number for number, _ in rows} <= {number for number, _ in before[sheet]}


@pytest.mark.parametrize("name", ["libreoffice.xls", "gnumeric.xls", "pyxlsbwriter.xlsb"])
def test_legacy_and_binary_workbooks_are_not_rewritten(name: str) -> None:
    data = (OTHER_TOOLS / name).read_bytes()
    with pytest.raises(Unrewritable, match="cannot be rewritten"):
        without_rows(EXTENSIONS[Path(name).suffix], name, data, {"": {2}})


CSV_DIALECTS = {
    # semicolons, Windows-1252, CRLF, a quoted field over two lines, a quote inside a field
    "cp1252.csv": 'nom;ville;note\r\n"Zoé";"Paris\r\nNord";12\r\nÉlise;Lyon;7\r\n'
    'Marc;"Saint-Étienne";37°36\'37.8"N\r\n'.encode("cp1252"),
    # a UTF-8 byte-order mark, tabs, a last line without line end
    "bom.tsv": b'\xef\xbb\xbfname\tcity\nAnna\tOslo\nBo\tBergen\nCy\t"Tromso"',
    # pipes, a delimiter inside quotes, a quoted line end in the last record
    "pipes.txt": b'a|b\n"1|x"|2\n3|4\n5|"6\n7"\n',
}


@pytest.mark.parametrize("name", sorted(CSV_DIALECTS))
def test_csv_keeps_the_other_records_byte_for_byte(name: str) -> None:
    data = CSV_DIALECTS[name]
    rewritten = _check_rewrite(name, data)
    if name == "cp1252.csv":
        assert rewritten == (
            'nom;ville;note\r\n"Zoé";"Paris\r\nNord";12\r\nMarc;"Saint-Étienne";37°36\'37.8"N\r\n'
        ).encode("cp1252")
    if name == "bom.tsv":
        assert rewritten == b'\xef\xbb\xbfname\tcity\nAnna\tOslo\nCy\t"Tromso"'
    if name == "pipes.txt":
        assert rewritten == b'a|b\n"1|x"|2\n5|"6\n7"\n'


def test_json_arrays_keep_the_other_records_as_written() -> None:
    records = [{"id": n, "amount": 1.5, "who": {"email": f"p{n}@x.example"}} for n in range(4)]
    text = json.dumps({"tickets": records, "meta": {"v": 1}, "other": records[:2]}, indent=1)
    rewritten = _check_rewrite("t.json", text.replace("1.5", "1.50").encode())
    assert '"amount": 1.50' in rewritten.decode()  # numbers as written, not re-printed
    assert json.loads(rewritten)["tickets"] == [records[0], records[2], records[3]]
    assert json.loads(rewritten)["meta"] == {"v": 1}
    top = json.dumps(records).encode()
    assert json.loads(_check_rewrite("top.json", top)) == [records[0], *records[2:]]


def test_json_lines_keep_the_other_lines_byte_for_byte() -> None:
    data = b'{"a": 1}\r\n\n{"a": 2}\r\n{"a":3 }\n'
    assert _check_rewrite("t.jsonl", data) == b'{"a": 1}\r\n\n{"a":3 }\n'
