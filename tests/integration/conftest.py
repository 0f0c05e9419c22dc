"""Fixtures for landing real files into the session's real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from flows.ingest import ingest
from flows.settings import Settings
from loaders.landing import LandingResult


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
