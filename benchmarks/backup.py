"""Backup benchmark: `rempart backup create` and `verify` against a plain `pg_dump`, over a
warehouse of 5,000,000 landed rows.

Why: a backup set is a `pg_dump` (custom format, compression 6) sealed in authenticated
AES-256-GCM chunks as it streams, plus Superset's metadata, the archive and a manifest of
every table's row count and checksum. The sealing and the manifest must not make the nightly
backup much slower than the dump it wraps, nor its memory grow with the data.
Targets: create at least 0.7 of plain `pg_dump`'s throughput; Rempart's peak RSS under 150 MB
and flat (about the same at a fifth of the rows as at all of them).

What is measured, in one run, on a throw-away embedded PostgreSQL server:

1. `--rows` (5,000,000) landed rows are made in the database itself, as the loader leaves
   them (one partition of `raw.records` per file, 5 files, each row's cells as text: a date,
   a department, a KPI, a value, a unit, a comment), the same on every run.
2. After the first file (a fifth of the rows), a `create` is measured, for the memory at
   that size.
3. With all the files: a plain `pg_dump --format=custom --compress=6` of the same database
   to a file; then `create` (the set, in a folder on the same disk); then `verify` (every
   member checked, the dump restored into another throw-away server and compared table by
   table with the manifest, the audit chain verified).

Throughput is the database's size (pg_database_size, before the run) divided by the
wall-clock time, in MB/s, for all three. `create` and `verify` each run in a fresh Python
process whose peak RSS (ru_maxrss) is Rempart's memory; pg_dump's and pg_restore's are given
apart (their children's peak), being PostgreSQL's own tools.

Run from the repository root:

    .venv/bin/python -m benchmarks.backup [--rows N]

Results to stdout, progress to stderr. PASS or MISS never changes the exit status; it is 1
only when something failed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from benchmarks.harness.installation import installation, work_folder
from benchmarks.harness.options import argument_parser
from benchmarks.harness.processes import report_to_parent, ru_maxrss_kib, run_child
from benchmarks.harness.report import MB, progress, verdict

FILES = 5
CREATE_RATIO_TARGET = 0.7  # create MB/s / pg_dump MB/s
RSS_TARGET_MB = 150.0

# One file's rows, made by the server: deterministic (a function of the row number only).
RECORDS_SQL = """
insert into raw.{partition} (file_id, sheet, row_number, cells)
select %(file_id)s, '', n, array[
    to_char(date '2022-01-01' + (n %% 1095), 'YYYY-MM-DD'),
    (array['Finance', 'Sales', 'Operations', 'IT', 'Logistics', 'Quality'])[1 + n %% 6],
    (array['Headcount', 'Monthly spend', 'Tickets closed', 'Gross margin'])[1 + n %% 4],
    to_char(((n::bigint * 7919) %% 100000) / 100.0, 'FM99999990.00'),
    (array['FTE', 'kEUR', 'count', '%%'])[1 + n %% 4],
    case when n %% 3 = 0 then '' else 'revised after review ' || (n %% 97) end
]
from generate_series(%(first)s::integer, %(last)s::integer) as n
"""


def _land_rows(settings: object, file_number: int, rows: int) -> None:
    from flows.runtime.database import connection_info

    with connection_info(settings).connect() as conn, conn.transaction():
        (file_id,) = conn.execute(
            "insert into raw.files (file_name, file_type, size_bytes, sha256, status, "
            "received_at, uploaded_by) values (%s, 'csv', 0, %s, 'landed', now(), 'benchmark') "
            "returning file_id",
            (f"benchmark_{file_number}.csv", f"{file_number:064x}"),
        ).fetchone()
        (partition,) = conn.execute("select raw.create_file_partition(%s)", (file_id,)).fetchone()
        conn.execute(
            RECORDS_SQL.replace("{partition}", partition.split(".")[-1]),
            {"file_id": file_id, "first": 1, "last": rows},
        )
        conn.execute(
            "insert into raw.sheets values (%s, '', %s, %s)",
            (file_id, ["date", "department", "kpi", "value", "unit", "comment"], rows),
        )
        conn.execute("select raw.attach_file_partition(%s)", (file_id,))
        conn.execute(
            "update raw.files set row_count = %s, landed_at = now() where file_id = %s",
            (rows, file_id),
        )


def _measure(action: str, env: dict[str, str], target: str) -> dict[str, float]:
    """Run `create` or `verify` in a fresh interpreter; its seconds and peak RSS."""
    return run_child(__file__, "--child", action, target, env=env)


def _child(action: str, target: str) -> None:
    from flows.backup.backup_set import create_set
    from flows.backup.verify import verify_set
    from flows.runtime.settings import load_settings

    settings = load_settings()
    started = time.monotonic()
    if action == "create":
        made = create_set(settings, Path(target), progress=progress)
        extra = {"path": str(made.path), "size": made.size}
    else:
        result = verify_set(settings, Path(target), progress=progress)
        if not result.passed:
            raise SystemExit(f"verification failed: {result.problems}")
        extra = {}
    seconds = time.monotonic() - started
    own = ru_maxrss_kib() / 1024
    tools = ru_maxrss_kib(resource.RUSAGE_CHILDREN) / 1024
    report_to_parent({"seconds": seconds, "rss_mb": own, "tools_rss_mb": tools, **extra})


def main() -> int:
    parser = argument_parser(__doc__, __file__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child(*arguments.child)
        return 0

    from flows.backup.backup_set import postgres_tool
    from flows.runtime.database import connection_info
    from flows.warehouse.provision import prepare_database

    with (
        work_folder("rempart-backup-") as work,
        installation(work, env={"REMPART_BACKUP_DIRS": str(work / "backups")}) as made,
    ):
        settings, env = made.settings, made.env
        prepare_database(settings)
        per_file = arguments.rows // FILES
        progress(f"landing {per_file:,} rows (file 1 of {FILES})")
        _land_rows(settings, 1, per_file)
        small = _measure("create", env, str(work / "small"))
        for number in range(2, FILES + 1):
            progress(f"landing {per_file:,} rows (file {number} of {FILES})")
            _land_rows(settings, number, per_file)
        with connection_info(settings).connect(autocommit=True) as conn:
            conn.execute("vacuum analyze")
            conn.execute("checkpoint")
            (size,) = conn.execute("select pg_database_size(current_database())").fetchone()

        progress("plain pg_dump")
        dump_file = work / "plain.dump"
        started = time.monotonic()
        arguments_ = [
            "--format=custom",
            "--compress=6",
            "--exclude-table-data=private.keys",
            f"--file={dump_file}",
            f"--dbname={connection_info(settings).url()}",
        ]
        with postgres_tool("pg_dump", arguments_, "pg_dump failed"):
            pass
        dump_seconds = time.monotonic() - started
        dump_size = dump_file.stat().st_size
        dump_file.unlink()

        progress("rempart backup create")
        created = _measure("create", env, str(work / "backups"))
        progress("rempart backup verify")
        verified = _measure("verify", env, created["path"])

    dump_rate = size / MB / dump_seconds
    create_rate = size / MB / created["seconds"]
    verify_rate = size / MB / verified["seconds"]
    ratio = create_rate / dump_rate
    peak = max(created["rss_mb"], verified["rss_mb"])
    print(f"warehouse: {arguments.rows:,} landed rows in {FILES} files, {size / MB:,.0f} MB")
    print(
        f"plain pg_dump:  {dump_seconds:7.1f} s  {dump_rate:6.1f} MB/s  ({dump_size / MB:.0f} MB)"
    )
    print(
        f"backup create:  {created['seconds']:7.1f} s  {create_rate:6.1f} MB/s  "
        f"({created['size'] / MB:.0f} MB set)  peak RSS {created['rss_mb']:.0f} MB "
        f"(pg_dump {created['tools_rss_mb']:.0f} MB)"
    )
    print(
        f"backup verify:  {verified['seconds']:7.1f} s  {verify_rate:6.1f} MB/s  "
        f"peak RSS {verified['rss_mb']:.0f} MB "
        f"(server tools {verified['tools_rss_mb']:.0f} MB)"
    )
    print(
        f"create / pg_dump throughput: {ratio:.2f} (target >= {CREATE_RATIO_TARGET}) "
        f"{verdict(ratio >= CREATE_RATIO_TARGET)}"
    )
    print(
        f"peak RSS: {peak:.0f} MB (target < {RSS_TARGET_MB:.0f}) "
        f"{verdict(peak < RSS_TARGET_MB)}; at a fifth of the rows "
        f"{small['rss_mb']:.0f} MB, ratio {created['rss_mb'] / small['rss_mb']:.2f} (flat ~ 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
