"""Fixtures: landing real files into the session's real PostgreSQL server, and installations
of their own (server, secrets, archive) for the tests that destroy one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from flows.backup.backup_set import list_sets, warehouse_state
from flows.runtime.database import connection_info, temporary_server
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.warehouse.landing import ingest
from loaders.landing import LandingResult
from tests.conftest import isolated_environment, run_rempart


@dataclass
class Landing:
    """An inbox, archive and quarantine of the test's own, on the session's database."""

    settings: Settings
    db: psycopg.Connection

    @property
    def inbox(self) -> Path:
        return self.settings.inbox_dir

    def drop(self, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        """Put a file in the inbox. Tests share one database: content already landed by
        another test is a duplicate, so give each test content of its own."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        path = self.inbox / name
        path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
        return path

    def ingest(self, *paths: Path) -> list[LandingResult]:
        return ingest(self.settings, list(paths))

    def env(self) -> dict[str, str]:
        return {
            "REMPART_INBOX_DIR": str(self.settings.inbox_dir),
            "REMPART_ARCHIVE_DIR": str(self.settings.archive_dir),
            "REMPART_QUARANTINE_DIR": str(self.settings.quarantine_dir),
        }

    def file_row(self, file_id: int) -> dict[str, object]:
        with self.db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
            row = cursor.execute(
                "select * from raw.files where file_id = %s", (file_id,)
            ).fetchone()
        assert row is not None
        return row

    def records(self, file_id: int) -> list[tuple[str, int, dict[str, str | None]]]:
        """(sheet, row_number, {header: cell}) for every landed row, in file order."""
        rows = self.db.execute(
            "select sheet, row_number, record from raw.records_as_json "
            "where file_id = %s order by sheet, row_number",
            (file_id,),
        ).fetchall()
        return [(sheet, number, record) for sheet, number, record in rows]

    def record_count(self, file_id: int | None) -> int:
        row = self.db.execute(
            "select count(*) from raw.records where file_id = %s", (file_id,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    def quarantine_report(self, name: str) -> dict[str, object]:
        return json.loads((self.settings.quarantine_dir / f"{name}.error.json").read_text())

    def audit_actions(self, file_id: int) -> list[str]:
        rows = self.db.execute(
            "select action from audit.events where file_id = %s order by event_id", (file_id,)
        ).fetchall()
        return [action for (action,) in rows]


@pytest.fixture
def landing(
    rempart_settings: Settings, db: psycopg.Connection, tmp_path: Path
) -> Iterator[Landing]:
    settings = rempart_settings.model_copy(
        update={
            "inbox_dir": tmp_path / "inbox",
            "archive_dir": tmp_path / "archive",
            "quarantine_dir": tmp_path / "quarantine",
        }
    )
    (tmp_path / "inbox").mkdir()
    yield Landing(settings, db)


@dataclass
class Installation:
    settings: Settings
    env: dict[str, str]
    work: Path

    def rempart(self, *args: str, check: bool = True, input: str | None = None) -> tuple[int, str]:
        done = run_rempart(*args, env=self.env, check=check, input=input)
        return done.returncode, done.stdout + done.stderr

    def land(self, name: str, content: str) -> None:
        inbox = self.work / "inbox"
        inbox.mkdir(exist_ok=True)
        (inbox / name).write_text(content)
        self.rempart("ingest", check=False)  # a rejected file exits non-zero, by design

    def state(self) -> dict[str, object]:
        """The warehouse as a restore must bring it back (the audit trail grows by the
        restore's own event, so it is compared apart), and every archived byte."""
        with connection_info(self.settings).connect() as conn:
            tables = warehouse_state(conn)["tables"]
        files = {}
        for folder in (self.settings.archive_dir, self.settings.quarantine_dir):
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(self.work))] = path.read_bytes()
        return {"tables": {k: v for k, v in tables.items() if k != "audit.events"}, "files": files}

    def query(self, statement: str, *params: object) -> list[tuple]:
        with connection_info(self.settings).connect() as conn:
            return conn.execute(statement, params or None).fetchall()

    def audit_actions(self) -> list[str]:
        with connection_info(self.settings).connect() as conn:
            rows = conn.execute("select action from audit.events order by event_id").fetchall()
        return [action for (action,) in rows]

    def backup(self) -> Path:
        self.rempart("backup", "create")
        return max(s.path for d in self.settings.backup_destinations for s in list_sets(d))

    @property
    def backup_key(self) -> bytes:
        return SecretStore(self.settings.secrets_dir).get_bytes("backup_key")


@pytest.fixture
def installation(rempart_settings: Settings, tmp_path: Path) -> Iterator[Installation]:
    with temporary_server(rempart_settings) as scratch:
        env = isolated_environment(scratch.state_dir, tmp_path)
        settings = scratch.model_copy(
            update={
                "inbox_dir": tmp_path / "inbox",
                "archive_dir": tmp_path / "archive",
                "quarantine_dir": tmp_path / "quarantine",
            }
        )
        done = Installation(settings, env, tmp_path)
        done.land("kept.csv", "kpi,value\nkept,1\nkept,2\n")
        done.land("rejected.csv", "\x00\x01 not a table")
        yield done
