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

    .venv/bin/python -m benchmarks.landing [--rows N] [--xlsx-rows N] [--jsonl-rows N] [--keep]

The table goes to stdout, progress to stderr. Targets are marked PASS or MISS and never change
the exit status; it is 1 only when something failed (a file not landed, a wrong row count).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from benchmarks.harness.installation import installation, server_description, work_folder
from benchmarks.harness.options import argument_parser, positive_int
from benchmarks.harness.report import progress
from benchmarks.landing.cases import Benchmark
from benchmarks.landing.files import generate
from benchmarks.landing.jobs import in_fresh_process, job_copy, job_json_loads, job_openpyxl
from benchmarks.landing.report import report


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, __file__)
    parser.add_argument("--rows", type=positive_int, default=1_000_000, help="CSV rows")
    parser.add_argument("--xlsx-rows", type=positive_int, default=100_000, help="XLSX rows")
    parser.add_argument("--jsonl-rows", type=positive_int, default=200_000, help="JSON Lines rows")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated files and archives afterwards"
    )
    return parser.parse_args(argv)


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


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from flows.warehouse.landing import landing_config
    from flows.warehouse.provision import prepare_database

    with work_folder("rempart-bench-", keep=arguments.keep, parent="/tmp") as workdir:
        files = generate(workdir, arguments)
        progress("starting a throw-away PostgreSQL server...")
        with installation(workdir) as made:  # the archive and quarantine in `workdir`
            settings = made.settings
            prepare_database(settings)  # what `rempart ingest` runs first, as administrator
            config = landing_config(settings)
            largest = max(path.stat().st_size for path in files.values())
            if largest > config.max_bytes:
                progress(f"  raising the loader's size limit to {largest:,} bytes for this run")
            config = dataclasses.replace(config, max_bytes=max(config.max_bytes, largest))
            bench = Benchmark(settings, config, workdir)
            server = server_description(
                settings, ("server_version", "wal_level", "shared_buffers", "temp_buffers")
            )
            measure(bench, files, arguments)
        report(bench, server)
        return 1 if any(case.failed for case in bench.cases.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
