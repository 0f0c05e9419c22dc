"""The landing benchmark's measurements, each run in a newly spawned interpreter: the loader,
and the plain baselines it is compared with."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness.processes import current_rss_kib, peak_rss_kib, ru_maxrss_kib
from benchmarks.harness.report import MB
from benchmarks.landing.files import HEADERS

if TYPE_CHECKING:
    from flows.runtime.settings import Settings
    from loaders.landing import LandingConfig

COPY_CHUNK = 1 << 20


@dataclass
class Measurement:
    case: str
    rows: int
    size_bytes: int
    seconds: float
    baseline_rss_kib: int  # resident memory after the imports, before the work
    peak_rss_kib: int  # VmHWM at the end: the child's own peak since exec
    ru_maxrss_kib: int  # as getrusage says (inherits the parent's peak on Linux)
    status: str = "ok"
    file_id: int | None = None
    message: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.size_bytes / MB / self.seconds if self.seconds else 0.0


def _measurement(
    case: str,
    rows: int,
    size_bytes: int,
    seconds: float,
    baseline: int,
    *,
    status: str = "ok",
    file_id: int | None = None,
    message: str = "",
) -> Measurement:
    return Measurement(
        case=case,
        rows=rows,
        size_bytes=size_bytes,
        seconds=seconds,
        baseline_rss_kib=baseline,
        peak_rss_kib=peak_rss_kib(),
        ru_maxrss_kib=ru_maxrss_kib(),
        status=status,
        file_id=file_id,
        message=message,
    )


def job_land(case: str, settings: Settings, config: LandingConfig, path: Path) -> Measurement:
    """Land one file as `rempart ingest` does, on the loader's own connection."""
    import flows.warehouse.landing  # noqa: F401  (what the `rempart ingest` process has loaded)
    from flows.runtime.database import role_connection
    from loaders.landing import land_file
    from loaders.schema import LOADER_ROLE

    size = path.stat().st_size  # land_file removes the file once it has landed
    baseline = current_rss_kib()
    with role_connection(settings, LOADER_ROLE).connect(
        autocommit=True, application_name="rempart-benchmark"
    ) as conn:
        started = time.perf_counter()
        result = land_file(conn, path, config)
        seconds = time.perf_counter() - started
    return _measurement(
        case,
        result.rows,
        size,
        seconds,
        baseline,
        status=result.status,
        file_id=result.file_id,
        message=result.message,
    )


def job_copy(case: str, settings: Settings, path: Path, table: str, fresh: bool) -> Measurement:
    """Plain COPY of the CSV into 8 text columns, as the administrator, in one transaction."""
    from psycopg import sql

    from flows.runtime.database import connection_info

    create = sql.SQL("create table {} ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(h)) for h in HEADERS),
    )
    statement = sql.SQL("copy {} from stdin with (format csv, header true)").format(
        sql.Identifier(table)
    )
    baseline = current_rss_kib()
    with connection_info(settings).connect() as conn:
        if not fresh:
            conn.execute(create)
            conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            if fresh:
                cursor.execute(create)
            with cursor.copy(statement) as copy, path.open("rb") as handle:
                while chunk := handle.read(COPY_CHUNK):
                    copy.write(chunk)
            rows = cursor.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
    return _measurement(case, rows, path.stat().st_size, seconds, baseline)


def job_openpyxl(case: str, path: Path) -> Measurement:
    """openpyxl in read-only mode, iterating every row's values: no conversion, no database."""
    import openpyxl

    baseline = current_rss_kib()
    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = 0
    for sheet in workbook.worksheets:
        sheet_rows = sum(1 for _ in sheet.iter_rows(values_only=True))
        rows += max(0, sheet_rows - 1)  # the header row is not data
    workbook.close()
    seconds = time.perf_counter() - started
    return _measurement(case, rows, path.stat().st_size, seconds, baseline)


def job_json_loads(case: str, path: Path) -> Measurement:
    """`json.loads` on every line of the file, and nothing else."""
    baseline = current_rss_kib()
    started = time.perf_counter()
    rows = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            rows += 1
    seconds = time.perf_counter() - started
    return _measurement(case, rows, path.stat().st_size, seconds, baseline)


def in_fresh_process(job: Callable[..., Measurement], *args: object) -> Measurement:
    """Run `job` in a newly spawned interpreter, so its memory is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(job, *args).result()
