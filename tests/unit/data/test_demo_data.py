"""The demo files are reproducible, and as messy as `data/examples/generate.py` documents."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from flows.runtime.settings import PROJECT_DIR

EXAMPLES = PROJECT_DIR / "data" / "examples"
GENERATOR = EXAMPLES / "generate.py"
COMMITTED = {"files": EXAMPLES / "files", "rejects": EXAMPLES / "rejects"}
SALES_FILES = ("sales_fr_2026-09.csv", "sales_fr_2026-10.csv")
WORKBOOK = "hr_headcount_2026-q3.xlsx"


def generate(out: Path, seed: int | None = None) -> dict[str, Path]:
    """Run the generator as a user would, from another working directory."""
    folders = {kind: out / kind for kind in COMMITTED}
    command = [
        sys.executable,
        str(GENERATOR),
        "--out",
        str(folders["files"]),
        "--rejects",
        str(folders["rejects"]),
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    subprocess.run(command, check=True, cwd=out)
    return folders


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("demo"))


def read_sales(name: str) -> list[list[str]]:
    text = (COMMITTED["files"] / name).read_bytes().decode("cp1252")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.mark.parametrize("kind", sorted(COMMITTED))
def test_generator_reproduces_the_committed_files(generated: dict[str, Path], kind: str) -> None:
    committed = sorted(path.name for path in COMMITTED[kind].iterdir())
    produced = sorted(path.name for path in generated[kind].iterdir())
    assert produced == committed
    for name in committed:
        expected = (COMMITTED[kind] / name).read_bytes()
        assert (generated[kind] / name).read_bytes() == expected, f"{kind}/{name} differs"


def test_another_seed_changes_values_not_layout(tmp_path: Path) -> None:
    other = generate(tmp_path, seed=7)["files"]
    for name in SALES_FILES:
        mine = (COMMITTED["files"] / name).read_bytes()
        theirs = (other / name).read_bytes()
        assert mine != theirs
        assert mine.count(b"\r\n") == theirs.count(b"\r\n")


def test_small_enough_to_commit() -> None:
    total = sum(path.stat().st_size for folder in COMMITTED.values() for path in folder.iterdir())
    assert total < 1_000_000


@pytest.mark.parametrize("name", SALES_FILES)
def test_sales_csv_is_windows_1252_not_utf8(name: str) -> None:
    data = (COMMITTED["files"] / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert text.startswith(
        "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire\r\n"
    )
    assert "Opérations" in text
    assert "Café" in text
    assert "€" in text
    assert "\u00a0" in text  # a no-break space as thousands separator
    # Every line ends in CRLF; the only bare LFs are inside the quoted multi-line comments.
    bare_line_feeds = data.count(b"\n") - data.count(b"\r\n")
    assert bare_line_feeds == {SALES_FILES[0]: 2, SALES_FILES[1]: 1}[name]


def test_sales_defects_are_where_documented() -> None:
    september, october = (read_sales(name) for name in SALES_FILES)
    assert {len(row) for row in september + october} == {8}
    values = {row[5] for row in september[1:] + october[1:]}
    assert {"", "n/a", "\u2014", "12,5,3"} <= values
    assert [row[0] for row in september].count("31/09/2026") == 1
    last_key = ["22/09/2026", "Épicerie", "Pâtes & riz", "taux_conversion"]
    assert [september[-1][0], *september[-1][2:5]] == last_key  # duplicated at the end
    multiline = [row[7] for row in september + october if "\n" in row[7]]
    assert len(multiline) == 3
    assert all(";" in comment for comment in multiline)
    restated = [row for row in october[1:] if row[0].endswith("/09/2026")]
    assert len(restated) == 18
    assert {row[4] for row in restated} == {"chiffre_affaires"}
    for rows, count in ((september, 3), (october, 1)):
        body = [tuple(row) for row in rows[1:]]
        assert len(body) - len(set(body)) == count


def test_workbook_has_three_sheets() -> None:
    path = COMMITTED["files"] / WORKBOOK
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Septembre 2026", "Octobre 2026", "Notes"]
    september, october, notes = (workbook[name] for name in workbook.sheetnames)
    assert [cell.value for cell in september[1]] == [
        "Date",
        "Department",
        "Employee ID",
        "Employee name",
        "Email",
        "FTE",
        "Absence days",
        "Contract",
    ]
    assert october["G1"].value is None  # the blank header
    assert all(cell.value is None for row in notes.iter_rows() for cell in row)
    dates = [row[0] for row in september.iter_rows(min_row=2, values_only=True)]
    assert 46279 in dates  # one serial number typed as a plain number
    assert all(isinstance(row[0], str) for row in october.iter_rows(min_row=2, values_only=True))
    assert "1,0" in [row[5] for row in october.iter_rows(min_row=2, values_only=True)]


def test_workbook_zip_is_normalised() -> None:
    with zipfile.ZipFile(COMMITTED["files"] / WORKBOOK) as archive:
        entries = archive.infolist()
        core = archive.read("docProps/core.xml").decode()
    assert entries[0].filename == "[Content_Types].xml"
    assert {entry.date_time for entry in entries} == {(2026, 11, 2, 9, 0, 0)}
    assert {entry.compress_type for entry in entries} == {zipfile.ZIP_STORED}
    assert "2026-11-02T09:00:00Z" in core


def test_tickets_defects_are_where_documented() -> None:
    document = json.loads((COMMITTED["files"] / "support_tickets_2026-09.json").read_bytes())
    september = document["tickets"]
    lines = (COMMITTED["files"] / "support_tickets_2026-10.jsonl").read_text("utf-8")
    october = [json.loads(line) for line in lines.splitlines()]
    assert len(september) == document["export"]["ticket_count"] + 2
    september_ids = [ticket["ticket_id"] for ticket in september]
    october_ids = [ticket["ticket_id"] for ticket in october]
    assert september_ids.count("T-000120") == september_ids.count("T-000175") == 2
    assert september_ids[-1] == "T-000175"
    assert october_ids.count("T-000300") == 2
    overlap = set(september_ids) & set(october_ids)
    assert overlap
    assert all(t["closed_at"] is None for t in september if t["ticket_id"] in overlap)
    assert any(t["status"] == "closed" for t in october if t["ticket_id"] in overlap)
    bad = [t for t in october if t["opened_at"] == "2026-13-01T10:00:00Z"]
    assert [t["ticket_id"] for t in bad] == ["T-000290"]
    tickets = september + october
    assert any("satisfaction" not in t for t in tickets if t["status"] == "closed")
    assert any(t.get("satisfaction", 0) is None for t in tickets)
    assert any(isinstance(t["first_response_minutes"], str) for t in tickets)
    assert any(t["priority"].islower() for t in tickets)
    zones = {t["opened_at"][-6:] for t in tickets if not t["opened_at"].endswith("Z")}
    assert zones == {"+02:00", "+01:00"}


def test_rejects() -> None:
    rejects = COMMITTED["rejects"]
    assert (rejects / "empty.csv").read_bytes() == b""
    assert (rejects / "header_only.csv").read_bytes().count(b"\r\n") == 1
    assert not (rejects / "fake.xlsx").read_bytes().startswith(b"PK")
    ragged = list(csv.reader(io.StringIO((rejects / "ragged.csv").read_text("utf-8"))))
    assert [len(row) for row in ragged] == [4, 4, 5, 4]
    header = (rejects / "duplicate_headers.csv").read_text("utf-8").splitlines()[0].split(",")
    assert len(header) != len(set(header))
