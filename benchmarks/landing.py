"""Landing benchmark: the loader against the fastest plain baseline, on the same server.

What is measured, in one run, on a throw-away embedded PostgreSQL server:

* CSV (1,000,000 rows by default, about 85 MB): `land_file` against a plain
  `COPY ... (FORMAT csv)` of the same bytes into a table of 8 text columns. The loader does
  much more than COPY (a SHA-256 and UTF-8 pass over the file, a staging table, the move into
  `raw.records` as text arrays, an encrypted and fsynced archive copy, the registry and the
  audit chain), so the question is how much of raw COPY speed survives all that. Target: at
  least 0.3 of COPY's throughput, and a flat memory profile (peak RSS under 100 MB) whatever
  the file size, since PostgreSQL, not Python, parses the rows.
* XLSX (100,000 rows): `land_file` against openpyxl in read-only mode merely iterating the
  rows, the usual Python way to read a workbook. The loader reads with calamine (Rust), so it
  should land rows at least 3x faster than openpyxl can even read them.
* JSON Lines (200,000 rows, with a nested object): `land_file` against `json.loads` on every
  line, the floor of any Python JSON reader. Informational: no target.

Plain COPY runs twice: into a table created in the same transaction (like the loader's
per-file partition, so with `wal_level=minimal` neither writes its rows to the WAL; this is
the baseline of the ratio) and into a table created beforehand (rows go through the WAL; for
reference).

How: each measurement runs in its own freshly spawned process, which does its imports, notes
its RSS (the baseline), then times the work alone with `time.perf_counter` and reports its peak
RSS. The peak is the process's VmHWM (Linux `/proc/self/status`): `ru_maxrss` is shown too, but
Linux carries the parent's peak RSS over `exec` into a spawned child's `ru_maxrss`, so it
reports the benchmark's own peak (the file generator) rather than the loader's. A CHECKPOINT
precedes each case, so no case pays for the previous one's dirty buffers.

Run from the repository root:

    .venv/bin/python benchmarks/landing.py [--rows N] [--xlsx-rows N] [--jsonl-rows N] [--keep]

The table goes to stdout, progress to stderr. Targets are marked PASS or MISS and never change
the exit status; it is 1 only when something failed (a file not landed, a wrong row count).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.runtime.settings import Settings
    from loaders.landing import LandingConfig

SEED = 42
COPY_CHUNK = 1 << 20
MB = 1_000_000
HEADERS = ["date", "department", "category", "subcategory", "kpi", "value", "unit", "comment"]

CSV_COPY_TARGET = 0.3  # loader throughput / plain COPY throughput
CSV_RSS_TARGET_MB = 100.0  # loader peak RSS on the CSV
XLSX_SPEED_TARGET = 3.0  # loader rows/s / openpyxl read-only rows/s

# -- test data ------------------------------------------------------------------------------

DEPARTMENTS = [
    "Finance",
    "Human Resources",
    "Operations",
    "Sales",
    "Marketing",
    "IT",
    "Logistics",
    "Quality",
    "Purchasing",
    "Legal",
    "Customer Service",
    "R&D",
]
CATEGORIES = {
    "Costs": ["Payroll", "Travel", "Energy", "Licences", "Subcontracting"],
    "Revenue": ["Products", "Services", "Subscriptions", "Maintenance"],
    "People": ["Headcount", "Absence", "Training", "Turnover"],
    "Delivery": ["Inbound", "Outbound", "Returns", "Stock"],
    "Service": ["Tickets", "Calls", "Satisfaction", "Incidents"],
    "Compliance": ["Audits", "Contrôles", "Findings", "Trainings"],
}
CATEGORY_NAMES = list(CATEGORIES)
KPIS = [  # name, unit, low, high
    ("On-time delivery rate", "%", 70.0, 100.0),
    ("Cost per unit", "EUR", 1.0, 250.0),
    ("Monthly spend", "kEUR", 10.0, 9_000.0),
    ("Headcount", "FTE", 1.0, 400.0),
    ("Absence rate", "%", 0.0, 15.0),
    ("Tickets closed", "count", 0.0, 5_000.0),
    ("Average handling time", "min", 1.0, 60.0),
    ("Net promoter score", "pts", -100.0, 100.0),
    ("Gross margin", "%", -20.0, 60.0),
    ("Energy use", "MWh", 0.5, 900.0),
]
COMMENTS = [
    "",
    "",
    "ok",
    "checked by the controller",
    "provisional figure",
    "estimated, to be confirmed at month end",
    "late, supplier issue",
    'revised after the "Q2" review',
    "écart expliqué par la saisonnalité",
    "see the monthly report",
    "one-off event",
    "includes the Île-de-France site",
]
FIRST_DAY = dt.date(2022, 1, 1)
DAYS = 3 * 365


@dataclass(frozen=True)
class Row:
    date: dt.date
    department: str
    category: str
    subcategory: str
    kpi: str
    value: float
    unit: str
    comment: str


def make_rows(count: int) -> Iterator[Row]:
    """`count` KPI rows, the same ones on every run (seeded)."""
    rng = random.Random(SEED)
    for _ in range(count):
        category = rng.choice(CATEGORY_NAMES)
        kpi, unit, low, high = rng.choice(KPIS)
        yield Row(
            date=FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS)),
            department=rng.choice(DEPARTMENTS),
            category=category,
            subcategory=rng.choice(CATEGORIES[category]),
            kpi=kpi,
            value=round(rng.uniform(low, high), 2),
            unit=unit,
            comment=rng.choice(COMMENTS),
        )


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(
            (
                row.date.isoformat(),
                row.department,
                row.category,
                row.subcategory,
                row.kpi,
                f"{row.value:.2f}",
                row.unit,
                row.comment,
            )
            for row in make_rows(count)
        )


def write_xlsx(path: Path, count: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("KPIs")
    sheet.append(HEADERS)
    for row in make_rows(count):
        sheet.append(
            [
                row.date,
                row.department,
                row.category,
                row.subcategory,
                row.kpi,
                row.value,
                row.unit,
                row.comment,
            ]
        )
    workbook.save(path)


def write_jsonl(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for number, row in enumerate(make_rows(count), start=1):
            record = {
                "date": row.date.isoformat(),
                "department": row.department,
                "category": row.category,
                "subcategory": row.subcategory,
                "kpi": row.kpi,
                "value": row.value,
                "unit": row.unit,
                "comment": row.comment,
                "source": {"system": "erp", "batch": number // 1000, "validated": number % 7 != 0},
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# -- measuring, in a child process ----------------------------------------------------------


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


def _status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _baseline_rss() -> int:
    current = _status_kib("VmRSS")
    return current if current is not None else _ru_maxrss_kib()


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
    ru_maxrss = _ru_maxrss_kib()
    peak = _status_kib("VmHWM")
    return Measurement(
        case=case,
        rows=rows,
        size_bytes=size_bytes,
        seconds=seconds,
        baseline_rss_kib=baseline,
        peak_rss_kib=peak if peak is not None else ru_maxrss,
        ru_maxrss_kib=ru_maxrss,
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
    baseline = _baseline_rss()
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
    baseline = _baseline_rss()
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

    baseline = _baseline_rss()
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
    baseline = _baseline_rss()
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


# -- the run --------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    def positive(text: str) -> int:
        value = int(text.replace("_", "").replace(",", ""))
        if value < 1:
            raise argparse.ArgumentTypeError("must be at least 1")
        return value

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive, default=1_000_000, help="CSV rows")
    parser.add_argument("--xlsx-rows", type=positive, default=100_000, help="XLSX rows")
    parser.add_argument("--jsonl-rows", type=positive, default=200_000, help="JSON Lines rows")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated files and archives afterwards"
    )
    return parser.parse_args(argv)


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

    def checkpoint(self) -> None:
        from flows.runtime.database import connection_info

        with connection_info(self.settings).connect(autocommit=True) as conn:
            conn.execute("checkpoint")

    def server_description(self) -> str:
        from flows.runtime.database import connection_info

        facts: list[str] = []
        with connection_info(self.settings).connect(autocommit=True) as conn:
            for name in ("server_version", "wal_level", "shared_buffers", "temp_buffers"):
                row = conn.execute(f"show {name}").fetchone()
                facts.append(f"{name}={row[0] if row else '?'}")
        return "PostgreSQL " + ", ".join(facts)

    def run(self, key: str, label: str, expected_rows: int, job: Callable[[], Measurement]) -> None:
        case = self.cases[key] = Case(key, label, expected_rows)
        self.checkpoint()
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


def generate(workdir: Path, arguments: argparse.Namespace) -> dict[str, Path]:
    files = {
        "csv": workdir / "kpis.csv",
        "xlsx": workdir / "kpis.xlsx",
        "jsonl": workdir / "kpis.jsonl",
    }
    steps: list[tuple[str, int, Callable[[Path, int], None]]] = [
        ("csv", arguments.rows, write_csv),
        ("xlsx", arguments.xlsx_rows, write_xlsx),
        ("jsonl", arguments.jsonl_rows, write_jsonl),
    ]
    for kind, rows, writer in steps:
        progress(f"generating {rows:,}-row {kind.upper()}...")
        started = time.perf_counter()
        writer(files[kind], rows)
        progress(
            f"  {files[kind].stat().st_size / MB:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
    return files


def measure(bench: Benchmark, files: dict[str, Path], arguments: argparse.Namespace) -> None:
    csv_path, xlsx_path, jsonl_path = files["csv"], files["xlsx"], files["jsonl"]
    settings = bench.settings

    progress("plain COPY of the CSV (table created in the transaction)...")
    bench.run(
        "copy",
        "CSV   plain COPY, new table",
        arguments.rows,
        lambda: in_fresh_process(job_copy, "copy", settings, csv_path, "bench_plain", True),
    )
    bench.drop("bench_plain")
    progress("plain COPY of the CSV (table created beforehand, WAL-logged)...")
    bench.run(
        "copy_wal",
        "CSV   plain COPY, existing table",
        arguments.rows,
        lambda: in_fresh_process(
            job_copy, "copy_wal", settings, csv_path, "bench_plain_wal", False
        ),
    )
    bench.drop("bench_plain_wal")
    progress("landing CSV with the loader...")
    bench.land("csv", "CSV   loader", csv_path, arguments.rows)

    progress("reading XLSX with openpyxl (read-only)...")
    bench.run(
        "openpyxl",
        "XLSX  openpyxl read-only",
        arguments.xlsx_rows,
        lambda: in_fresh_process(job_openpyxl, "openpyxl", xlsx_path),
    )
    progress("landing XLSX with the loader...")
    bench.land("xlsx", "XLSX  loader", xlsx_path, arguments.xlsx_rows)

    progress("parsing JSONL with json.loads...")
    bench.run(
        "json",
        "JSONL json.loads",
        arguments.jsonl_rows,
        lambda: in_fresh_process(job_json_loads, "json", jsonl_path),
    )
    progress("landing JSONL with the loader...")
    bench.land("jsonl", "JSONL loader", jsonl_path, arguments.jsonl_rows)


# -- the report -----------------------------------------------------------------------------


def _mb(kib: int) -> str:
    return f"{kib * 1024 / MB:.1f}"


def results_table(cases: list[Case]) -> str:
    columns = [
        ("case", "<", 33),
        ("rows", ">", 10),
        ("MB", ">", 7),
        ("seconds", ">", 8),
        ("rows/s", ">", 10),
        ("MB/s", ">", 7),
        ("base RSS MB", ">", 11),
        ("peak RSS MB", ">", 11),
        ("ru_maxrss MB", ">", 12),
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            f"{value:{align}{width}}"
            for value, (_, align, width) in zip(values, columns, strict=True)
        ).rstrip()

    lines = [line([name for name, _, _ in columns]), "  ".join("-" * w for _, _, w in columns)]
    for case in cases:
        measured = case.measurement
        if measured is None or case.failed:
            lines.append(line([case.label, "FAILED", *[""] * 7]))
            continue
        lines.append(
            line(
                [
                    case.label,
                    f"{measured.rows:,}",
                    f"{measured.size_bytes / MB:.1f}",
                    f"{measured.seconds:.2f}",
                    f"{measured.rows_per_second:,.0f}",
                    f"{measured.mb_per_second:.1f}",
                    _mb(measured.baseline_rss_kib),
                    _mb(measured.peak_rss_kib),
                    _mb(measured.ru_maxrss_kib),
                ]
            )
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ratios_table(cases: dict[str, Case]) -> str:
    def measured(key: str) -> Measurement | None:
        case = cases.get(key)
        return case.measurement if case and not case.failed else None

    rows: list[tuple[str, str, str, str]] = []
    loader, copy, copy_wal = measured("csv"), measured("copy"), measured("copy_wal")
    if loader and copy:
        ratio = loader.mb_per_second / copy.mb_per_second
        rows.append(
            (
                "CSV loader / plain COPY (new table), throughput",
                f"{ratio:.2f}",
                f">= {CSV_COPY_TARGET}",
                _verdict(ratio >= CSV_COPY_TARGET),
            )
        )
    else:
        rows.append(("CSV loader / plain COPY (new table), throughput", "n/a", "", "FAILED"))
    if loader and copy_wal:
        ratio = loader.mb_per_second / copy_wal.mb_per_second
        rows.append(("CSV loader / plain COPY (existing table)", f"{ratio:.2f}", "", "info"))
    if loader:
        peak = loader.peak_rss_kib * 1024 / MB
        rows.append(
            (
                "CSV loader peak RSS",
                f"{peak:.1f} MB",
                f"< {CSV_RSS_TARGET_MB:.0f} MB",
                _verdict(peak < CSV_RSS_TARGET_MB),
            )
        )
        rows.append(
            (
                "CSV loader RSS growth while landing",
                f"{(loader.peak_rss_kib - loader.baseline_rss_kib) * 1024 / MB:.1f} MB",
                "",
                "info",
            )
        )
    xlsx, openpyxl_reader = measured("xlsx"), measured("openpyxl")
    if xlsx and openpyxl_reader:
        ratio = xlsx.rows_per_second / openpyxl_reader.rows_per_second
        rows.append(
            (
                "XLSX loader / openpyxl read-only, rows/s",
                f"{ratio:.2f}x",
                f">= {XLSX_SPEED_TARGET:.0f}x",
                _verdict(ratio >= XLSX_SPEED_TARGET),
            )
        )
    else:
        rows.append(("XLSX loader / openpyxl read-only, rows/s", "n/a", "", "FAILED"))
    jsonl, json_loads = measured("jsonl"), measured("json")
    if jsonl:
        rows.append(("JSONL loader rows/s", f"{jsonl.rows_per_second:,.0f}", "", "info"))
        if json_loads:
            ratio = jsonl.rows_per_second / json_loads.rows_per_second
            rows.append(("JSONL loader / json.loads, rows/s", f"{ratio:.2f}x", "", "info"))
    else:
        rows.append(("JSONL loader rows/s", "n/a", "", "FAILED"))
    width = max(len(row[0]) for row in rows)
    header = f"{'ratio':<{width}}  {'value':>10}  {'target':<10}  verdict"
    lines = [header, "-" * len(header)]
    lines += [
        f"{name:<{width}}  {value:>10}  {target:<10}  {verdict}"
        for name, value, target, verdict in rows
    ]
    return "\n".join(lines)


def report(bench: Benchmark, server: str) -> None:
    cases = list(bench.cases.values())
    print(
        f"Rempart landing benchmark ({server}; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs)"
    )
    print()
    print(results_table(cases))
    print()
    print(ratios_table(bench.cases))
    print()
    print(
        "MB = 1,000,000 bytes. Seconds: the work alone, in a fresh process (imports and the\n"
        "connection excluded). base RSS: after the imports; peak RSS: the process's VmHWM.\n"
        "ru_maxrss is shown for reference only: Linux carries the parent's peak over exec."
    )
    failures = [case for case in cases if case.failed]
    if failures:
        print()
        for case in failures:
            print(f"FAILED {' '.join(case.label.split())}: {case.error}")


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from flows.runtime.database import temporary_server
    from flows.runtime.settings import load_settings
    from flows.warehouse.landing import landing_config
    from flows.warehouse.provision import prepare_database

    workdir = Path(tempfile.mkdtemp(prefix="rempart-bench-", dir="/tmp"))
    try:
        files = generate(workdir, arguments)
        progress("starting a throw-away PostgreSQL server...")
        with temporary_server(load_settings()) as settings:
            prepare_database(settings)  # what `rempart ingest` runs first, as administrator
            config = landing_config(settings)
            largest = max(path.stat().st_size for path in files.values())
            if largest > config.max_bytes:
                progress(f"  raising the loader's size limit to {largest:,} bytes for this run")
            config = dataclasses.replace(
                config,
                archive_dir=workdir / "archive",
                quarantine_dir=workdir / "quarantine",
                max_bytes=max(config.max_bytes, largest),
            )
            bench = Benchmark(settings, config, workdir)
            server = bench.server_description()
            measure(bench, files, arguments)
        report(bench, server)
        return 1 if any(case.failed for case in bench.cases.values()) else 0
    finally:
        if arguments.keep:
            progress(f"kept the files in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
