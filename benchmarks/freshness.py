"""Freshness benchmark: from a file renamed into the inbox to the first chart that shows it.

What is measured, in one run, on a throw-away embedded PostgreSQL server and a Superset of its
own (a free port on 127.0.0.1), so the user's `.rempart/` is never touched:

1. Set-up, untimed: a sales export of 1,000,000 rows (`--rows`, the generator of
   `benchmarks/harness/sales.py`) lands through `rempart run`, which builds, publishes, starts
   Superset and syncs it.
2. `rempart run` with nothing new: the seconds of the whole command. Target: at most 10 s.
3. `rempart watch` (1 s between looks, files taken after 1 s unchanged) runs in the background,
   its Prefect API up once. A 100,000-row export (`--new-rows`: half new keys, half updates)
   is written under a temporary name and renamed into the inbox; the clock starts at the
   rename. The analyst then asks Superset's chart-data API, every 0.25 s, how many values of
   `fct_kpi_values` came from that file; the clock stops at the first answer that holds them
   all. Target: at most 30 s.

The breakdown comes from the database's own clocks: the file's registry row (received,
landed), the dbt build's log (`intermediate.dbt_build_runs`), the publication's log
(`intermediate.rempart_publications`) and the run's audit event:

    wait      rename -> the loader opens the file (the watcher's look and quiet time)
    landing   received -> committed
    start     committed -> dbt build starts (the flow, dbt's start-up and parse)
    build     dbt build, start to end (models, snapshot, tests)
    publish   build end -> publication committed
    sync      publication -> the chart-data API answers with the file's rows

Run from the repository root:

    .venv/bin/python -m benchmarks.freshness [--rows N] [--new-rows N] [--keep]

The results go to stdout, progress to stderr. Targets are marked PASS or MISS and never change
the exit status; it is 1 only when something failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time

from benchmarks.harness import sales
from benchmarks.harness.installation import installation, log_in, set_up_with_sales, work_folder
from benchmarks.harness.options import argument_parser
from benchmarks.harness.report import Column, format_table, progress, verdict

NOTHING_NEW_TARGET = 10.0
FRESHNESS_TARGET = 30.0
NEW_FILE = "sales_fr_2031-01.csv"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, __file__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows landed beforehand")
    parser.add_argument("--new-rows", type=int, default=100_000, help="rows of the new file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from flows.runtime.database import connection_info

    failures: list[str] = []
    results: list[tuple[str, str, str, str]] = []
    try:
        with (
            work_folder("rempart-freshness-", keep=arguments.keep) as workdir,
            installation(workdir, superset=True) as made,
        ):
            settings = made.settings
            plan = sales.DataPlan(
                rows=arguments.rows,
                new_keys=arguments.new_rows - arguments.new_rows // 2,
                updates=arguments.new_rows // 2,
            )
            small = set_up_with_sales(made, plan)
            if small is None:
                return 1

            progress("rempart run with nothing new...")
            code, nothing_new = made.rempart("run", log=workdir / "nothing-new.log")
            if code != 0:
                failures.append(f"the run with nothing new exited {code}")
            results.append(
                (
                    "rempart run, nothing new",
                    f"{nothing_new:.1f} s",
                    f"<= {NOTHING_NEW_TARGET:.0f} s",
                    verdict(nothing_new <= NOTHING_NEW_TARGET),
                )
            )
            progress(f"  {nothing_new:.1f} s")

            analyst = log_in(settings, "analyst")
            datasets = {
                row["table_name"]: row["id"]
                for row in analyst.list_all("/api/v1/dataset/", columns="!(id,table_name)")
            }

            def rows_of_new_file() -> int:
                response = analyst.http.post(
                    "/api/v1/chart/data",
                    json={
                        "datasource": {"id": datasets["fct_kpi_values"], "type": "table"},
                        "queries": [
                            {
                                "columns": [],
                                "metrics": ["count"],
                                "filters": [
                                    {"col": "source_file_name", "op": "==", "val": NEW_FILE}
                                ],
                            }
                        ],
                        "result_format": "json",
                        "result_type": "full",
                    },
                )
                response.raise_for_status()
                data = response.json()["result"][0]["data"]
                return int(data[0]["count"]) if data else 0

            watch_log = (workdir / "watch.log").open("w")
            watcher = subprocess.Popen(
                made.command("watch", "--interval", "1", "--quiet-seconds", "1"),
                env=made.env,
                stdout=watch_log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 300
                while "watching" not in (workdir / "watch.log").read_text():
                    if time.monotonic() > deadline or watcher.poll() is not None:
                        failures.append("rempart watch did not start")
                        return 1
                    time.sleep(0.5)
                time.sleep(3)  # the watcher's Prefect API is up before the clock starts
                partial = made.inbox / f"{NEW_FILE}.part"
                shutil.move(small, partial)
                progress(f"renaming {NEW_FILE} ({plan.small_rows:,} rows) into the inbox...")
                renamed_at = dt.datetime.now(dt.UTC)
                started = time.perf_counter()
                partial.rename(made.inbox / NEW_FILE)
                visible = None
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    if rows_of_new_file() >= plan.small_rows:
                        visible = time.perf_counter() - started
                        break
                    time.sleep(0.25)
                visible_at = renamed_at + dt.timedelta(seconds=visible or 0)
            finally:
                watcher.send_signal(signal.SIGINT)
                try:
                    watcher.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    watcher.kill()
                watch_log.close()
                analyst.close()
            if visible is None:
                failures.append(f"{NEW_FILE} never became visible: see {workdir / 'watch.log'}")
                return 1
            results.append(
                (
                    f"rename -> chart ({plan.small_rows:,} rows onto {plan.rows:,})",
                    f"{visible:.1f} s",
                    f"<= {FRESHNESS_TARGET:.0f} s",
                    verdict(visible <= FRESHNESS_TARGET),
                )
            )
            with connection_info(settings).connect() as conn:
                received, landed = conn.execute(
                    "select received_at, landed_at from raw.files where file_name = %s "
                    "and status = 'landed'",
                    (NEW_FILE,),
                ).fetchone()
                build_start, build_end = conn.execute(
                    "select started_at, finished_at from intermediate.dbt_build_runs "
                    "where tested_through >= %s order by started_at limit 1",
                    (landed,),
                ).fetchone()
                [published] = conn.execute(
                    "select min(published_at) from intermediate.rempart_publications "
                    "where published_at >= %s",
                    (build_end,),
                ).fetchone()
            steps = [
                ("  wait (watcher's look and quiet time)", renamed_at, received),
                ("  landing", received, landed),
                ("  start (flow, dbt start-up and parse)", landed, build_start),
                ("  build (dbt build)", build_start, build_end),
                ("  publish", build_end, published),
                ("  sync and first answer", published, visible_at),
            ]
            for label, start, end in steps:
                results.append((label, f"{(end - start).total_seconds():.1f} s", "", "info"))
    finally:
        for failure in failures:
            progress(f"FAILED: {failure}")
    print(f"Rempart freshness benchmark ({os.cpu_count()} CPUs)")
    columns = [
        Column("measure"),
        Column("value", ">", 9),
        Column("target", ">", 9),
        Column("verdict"),
    ]
    print(format_table(columns, results))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
