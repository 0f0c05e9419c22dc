"""The landing benchmark's cases: each measured after a CHECKPOINT, checked against what
the database holds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness.installation import checkpoint
from benchmarks.harness.report import MB, progress
from benchmarks.landing.jobs import Measurement, in_fresh_process, job_land

if TYPE_CHECKING:
    from flows.runtime.settings import Settings
    from loaders.landing import LandingConfig


@dataclass
class Case:
    key: str
    label: str
    expected_rows: int
    measurement: Measurement | None = None
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


class Benchmark:
    def __init__(self, settings: Settings, config: LandingConfig, workdir: Path) -> None:
        self.settings = settings
        self.config = config
        self.workdir = workdir
        self.cases: dict[str, Case] = {}

    def run(self, key: str, label: str, expected_rows: int, job: Callable[[], Measurement]) -> None:
        case = self.cases[key] = Case(key, label, expected_rows)
        checkpoint(self.settings)
        try:
            case.measurement = job()
        except Exception as error:  # reported in the table; the other cases still run
            case.error = f"{type(error).__name__}: {error}"
            progress(f"  FAILED: {case.error}")
            return
        measured = case.measurement
        if measured.status not in ("ok", "landed"):
            case.error = f"status {measured.status}: {measured.message}"
        elif measured.rows != expected_rows:
            case.error = f"{measured.rows:,} rows, expected {expected_rows:,}"
        elif measured.file_id is not None:
            case.error = self.check_landed(measured.file_id, expected_rows)
        if case.error:
            progress(f"  FAILED: {case.error}")
        else:
            progress(
                f"  {measured.seconds:.2f} s, {measured.rows_per_second:,.0f} rows/s, "
                f"peak RSS {measured.peak_rss_kib * 1024 / MB:.1f} MB"
            )

    def check_landed(self, file_id: int, expected_rows: int) -> str:
        """Ask the database, not the loader, what landed."""
        from flows.runtime.database import connection_info

        with connection_info(self.settings).connect(autocommit=True) as conn:
            registry = conn.execute(
                "select status, row_count from raw.files where file_id = %s", (file_id,)
            ).fetchone()
            stored = conn.execute(
                "select count(*) from raw.records where file_id = %s", (file_id,)
            ).fetchone()
        if registry is None or stored is None:
            return f"file {file_id} is not in raw.files"
        status, row_count = registry
        if status != "landed" or row_count != expected_rows or stored[0] != expected_rows:
            return (
                f"raw.files says {status} with {row_count} rows, raw.records holds {stored[0]}, "
                f"expected {expected_rows:,}"
            )
        return ""

    def land(self, key: str, label: str, source: Path, expected_rows: int) -> None:
        inbox = self.workdir / f"inbox-{key}"
        inbox.mkdir()
        path = inbox / source.name
        shutil.copyfile(source, path)
        self.run(
            key,
            label,
            expected_rows,
            lambda: in_fresh_process(job_land, key, self.settings, self.config, path),
        )

    def drop(self, table: str) -> None:
        from psycopg import sql

        from flows.runtime.database import connection_info

        with connection_info(self.settings).connect(autocommit=True) as conn:
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(table)))
