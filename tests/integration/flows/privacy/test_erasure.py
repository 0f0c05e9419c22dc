"""`rempart privacy erase` on the demo data: one employee (by e-mail, which also finds their
employee ID) and one customer (an e-mail inside a JSON cell) are nowhere afterwards: not in
any table, in clear or as the pseudonyms the models gave them, not in the decrypted archives,
not in target/ or the logs; everyone else's rows are all there; the audit trail holds the
erasure without the identifier. A backup made before the erasure, restored after the disk is
lost, no longer holds them either; a later file that brings one back is flagged."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pytest

from flows.privacy.redaction import landed_rows
from flows.privacy.retention import archived_copy
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR
from loaders.archive import decrypt_stream
from loaders.formats import FileType
from tests.integration.conftest import Installation

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow

EMPLOYEE = ("camille.morel@rempart-demo.example", "EMP-1001", "Camille Morel")
CUSTOMER = ("anais.simon@cafedesarts.example", "Anaïs Simon")
TRACES = [*EMPLOYEE, *CUSTOMER]
EXAMPLES = PROJECT_DIR / "data" / "examples" / "files"


def _text_tables(installation: Installation) -> list[str]:
    return [
        f"{schema}.{table}"
        for schema, table in installation.query(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema') "
            "and table_schema not like 'pg_temp%%' and table_type in ('BASE TABLE', 'VIEW')"
        )
    ]


def _tables_holding(installation: Installation, text: str) -> list[str]:
    return [
        table
        for table in _text_tables(installation)
        if installation.query(
            f"select count(*) from {table} as t where position(lower(%s) in lower(t::text)) > 0",
            text,
        )[0][0]
    ]


def _rows_per_file(installation: Installation) -> dict[str, int]:
    return dict(
        installation.query(
            "select f.file_name, count(r.*) from raw.files f "
            "join raw.records r using (file_id) group by 1"
        )
    )


def _rows_holding(installation: Installation, text: str) -> dict[str, int]:
    return dict(
        installation.query(
            "select f.file_name, count(*) from raw.records r join raw.files f using (file_id) "
            "where position(lower(%s) in lower(array_to_string(r.cells, chr(31)))) > 0 "
            "group by 1",
            text,
        )
    )


def _archives(installation: Installation) -> dict[str, bytes]:
    key = SecretStore(installation.settings.secrets_dir).get_bytes("archive_key")
    found = {}
    for name, file_type, path in installation.query(
        "select file_name, file_type, archive_path from raw.files where archive_path is not null"
    ):
        plain = io.BytesIO()
        with archived_copy(installation.settings, path).open("rb") as handle:
            decrypt_stream(handle, plain, key)
        found[name] = (FileType(file_type), plain.getvalue())
    return found


def _clear_files(installation: Installation) -> list[Path]:
    """What a person could be read from outside the database: every file of the installation
    but the database's own, the secrets and the encrypted archive and backups."""
    state = installation.settings.state_dir
    skipped = [
        state / "pgdata",
        installation.settings.secrets_dir,
        installation.settings.archive_dir,
    ]
    skipped += installation.settings.backup_destinations
    return [
        path
        for path in installation.work.rglob("*")
        if path.is_file() and not any(path.is_relative_to(s) for s in skipped)
    ]


def _pseudonyms(installation: Installation) -> list[str]:
    """The pseudonyms the models give the employee (by ID) and the customer (by e-mail)."""
    return [
        installation.query("select privacy.pseudonymise(lower(%s))", value)[0][0]
        for value in (EMPLOYEE[1], CUSTOMER[0])
    ]


def _assert_gone(
    installation: Installation,
    before: dict[str, int],
    erased: dict[str, int],
    pseudonyms: list[str],
) -> None:
    for text in [*TRACES, *pseudonyms]:
        assert _tables_holding(installation, text) == [], text
    archives = _archives(installation)
    for name, (file_type, data) in archives.items():
        for text in TRACES:
            assert text.lower().encode() not in data.lower(), (name, text)
        # Every other row is in the archive as it is in raw.
        landed = sum(len(rows) for rows in landed_rows(file_type, name, data).values())
        assert landed == before[name] - erased.get(name, 0), name
    for path in _clear_files(installation):
        data = path.read_bytes().lower()
        for text in TRACES:
            assert text.lower().encode() not in data, (path, text)
    assert _rows_per_file(installation) == {
        name: count - erased.get(name, 0) for name, count in before.items()
    }


@pytest.fixture
def demo(installation: Installation) -> Installation:
    installation.env["REMPART_SUPERSET_SYNC"] = "false"
    installation.rempart("examples")
    installation.rempart("run")
    return installation


def test_an_erased_person_is_nowhere_stays_erased_after_a_restore_and_is_flagged_back(
    demo: Installation,
) -> None:
    before = _rows_per_file(demo)
    erased: dict[str, int] = {}
    for text in (EMPLOYEE[0], EMPLOYEE[1], CUSTOMER[0]):
        for name, count in _rows_holding(demo, text).items():
            erased[name] = max(erased.get(name, 0), count)
    assert {"hr_headcount_2026-q3.xlsx", "support_tickets_2026-09.json"} <= set(erased)
    pseudonyms = _pseudonyms(demo)
    for text in [*TRACES, *pseudonyms]:
        assert _tables_holding(demo, text), text
    made = demo.backup()

    _, said = demo.rempart("privacy", "erase", "--email", EMPLOYEE[0])
    assert "erased: " in said and "rebuilding the marts" in said, said
    # From standard input: out of the command line, which ps shows and dbt records.
    _, said = demo.rempart("privacy", "erase", "--email", "-", input=CUSTOMER[0] + "\n")
    assert "archived cop(ies) rewritten" in said, said
    _assert_gone(demo, before, erased, pseudonyms)

    events = demo.query(
        "select details from audit.events where action = 'privacy_erasure' order by event_id"
    )
    assert len(events) == 2
    employee, customer = (details for (details,) in events)
    assert employee["identifiers"] == 2  # the e-mail asked for, and the employee ID found
    assert employee["rows_removed"] == sum(
        erased[f] for f in erased if f.startswith("hr_headcount")
    )
    assert customer["archives_rewritten"] == customer["files"] >= 2
    assert "audit trail intact" in demo.rempart("audit", "verify")[1]
    _, said = demo.rempart("privacy", "report", "--employee-id", EMPLOYEE[1])
    assert "Rempart holds no landed row" in said, said
    _assert_gone(demo, before, erased, pseudonyms)  # the report's event holds no pseudonym

    # The disk is lost; the secrets and the backup on another disk remain.
    demo.rempart("db", "stop")
    shutil.rmtree(demo.settings.state_dir / "pgdata")
    shutil.rmtree(demo.settings.archive_dir)
    shutil.rmtree(demo.settings.quarantine_dir, ignore_errors=True)
    shutil.rmtree(demo.settings.dbt_target_dir, ignore_errors=True)
    _, said = demo.rempart("backup", "restore", made.name)
    assert "2 erasure(s) logged after the set was made applied again" in said, said
    _assert_gone(demo, before, erased, pseudonyms)
    actions = demo.audit_actions()
    assert actions.count("privacy_erasure_reapplied") == 2
    assert "audit trail intact" in demo.rempart("audit", "verify")[1]

    # A later file brings Camille back: it lands, and is flagged.
    assert demo.query("select count(*) from marts.dq_erased_subject_returns") == [(0,)]
    # Another workbook from HR: Camille's ID again (its case and spaces changed, no e-mail),
    # and a colleague's row.
    demo_workbook = openpyxl.load_workbook(EXAMPLES / "hr_headcount_2026-q3.xlsx")
    rows = [[cell.value for cell in row] for row in demo_workbook.active.iter_rows()]
    header = [str(value).strip().lower() for value in rows[0]]
    ids, emails = header.index("employee id"), header.index("email")
    camille = next(row for row in rows[1:] if row[ids] == EMPLOYEE[1])
    colleague = next(row for row in rows[1:] if row[ids] not in (EMPLOYEE[1], None))
    camille[ids], camille[emails] = " emp-1001 ", None
    later = openpyxl.Workbook()
    for row in (rows[0], camille, colleague):
        later.active.append(row)
    inbox = demo.work / "inbox"
    inbox.mkdir(exist_ok=True)
    later.save(inbox / "hr_headcount_2026-11.xlsx")
    _, said = demo.rempart("run")
    assert "1 row(s) hold a person erased before" in said, said
    assert demo.query(
        "select file_name, row_number, matched_on, landed_after_erasure "
        "from marts.dq_erased_subject_returns"
    ) == [("hr_headcount_2026-11.xlsx", 2, "employee_id", True)]
