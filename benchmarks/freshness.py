"""Freshness benchmark: from a file renamed into the inbox to the first chart that shows it.

What is measured, in one run, on a throw-away embedded PostgreSQL server and a Superset of its
own (a free port on 127.0.0.1), so the user's `.rempart/` is never touched:

1. Set-up, untimed: a sales export of 1,000,000 rows (`--rows`, the generator of
   `benchmarks/transform.py`) lands through `rempart run`, which builds, publishes, starts
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

    .venv/bin/python benchmarks/freshness.py [--rows N] [--new-rows N] [--keep]

The results go to stdout, progress to stderr. Targets are marked PASS or MISS and never change
the exit status; it is 1 only when something failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import transform  # the sales generator of the transform benchmark

VENV_BIN = Path(sys.executable).parent
NOTHING_NEW_TARGET = 10.0
FRESHNESS_TARGET = 30.0
NEW_FILE = "sales_fr_2031-01.csv"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rempart(env: dict[str, str], *args: str, log: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(
            [str(VENV_BIN / "rempart"), *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=3600,
        )
    return completed.returncode, time.perf_counter() - started


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows landed beforehand")
    parser.add_argument("--new-rows", type=int, default=100_000, help="rows of the new file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from flows.runtime.database import connection_info, temporary_server
    from flows.runtime.secrets import SecretStore
    from flows.runtime.settings import load_settings
    from flows.superset.server import SupersetServer, current_demo_code, password_secret
    from flows.superset.sync import SupersetClient

    workdir = Path(tempfile.mkdtemp(prefix="rempart-freshness-"))
    failures: list[str] = []
    results: list[tuple[str, str, str, str]] = []
    try:
        with temporary_server(load_settings()) as scratch, contextlib.ExitStack() as cleanup:
            port, redis_port = free_port(), free_port()
            env = {
                **os.environ,
                "REMPART_DATABASE_URL": "",
                "REMPART_STATE_DIR": str(scratch.state_dir),
                "REMPART_INBOX_DIR": str(workdir / "inbox"),
                "REMPART_ARCHIVE_DIR": str(workdir / "archive"),
                "REMPART_QUARANTINE_DIR": str(workdir / "quarantine"),
                "REMPART_SUPERSET_PORT": str(port),
                "REMPART_REDIS_PORT": str(redis_port),
                "DBT_TARGET_PATH": str(workdir / "target"),
                "DBT_LOG_PATH": str(workdir / "logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DO_NOT_TRACK": "1",
            }
            inbox = workdir / "inbox"
            inbox.mkdir()
            cleanup.callback(rempart, env, "redis", "stop", log=workdir / "stop-redis.log")
            cleanup.callback(rempart, env, "superset", "stop", log=workdir / "stop.log")
            settings = scratch.model_copy(update={"superset_port": port, "redis_port": redis_port})
            plan = transform.DataPlan(
                rows=arguments.rows,
                new_keys=arguments.new_rows - arguments.new_rows // 2,
                updates=arguments.new_rows // 2,
            )
            big, small = transform.generate(workdir, plan)
            shutil.move(big, inbox / big.name)
            progress("set-up: rempart run (land, build, publish, start Superset, sync)...")
            code, seconds = rempart(env, "run", log=workdir / "setup.log")
            if code != 0:
                failures.append(f"set-up run exited {code}: see {workdir / 'setup.log'}")
                return 1
            progress(f"  {seconds:.1f} s")

            progress("rempart run with nothing new...")
            code, nothing_new = rempart(env, "run", log=workdir / "nothing-new.log")
            if code != 0:
                failures.append(f"the run with nothing new exited {code}")
            results.append(
                (
                    "rempart run, nothing new",
                    f"{nothing_new:.1f} s",
                    f"<= {NOTHING_NEW_TARGET:.0f} s",
                    "PASS" if nothing_new <= NOTHING_NEW_TARGET else "MISS",
                )
            )
            progress(f"  {nothing_new:.1f} s")

            analyst = SupersetClient.log_in(
                SupersetServer(settings).url,
                "analyst",
                SecretStore(settings.secrets_dir).get(password_secret("analyst")),
                otp=current_demo_code(settings, "analyst"),
            )
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
                [str(VENV_BIN / "rempart"), "watch", "--interval", "1", "--quiet-seconds", "1"],
                env=env,
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
                partial = inbox / f"{NEW_FILE}.part"
                shutil.move(small, partial)
                progress(f"renaming {NEW_FILE} ({plan.small_rows:,} rows) into the inbox...")
                renamed_at = dt.datetime.now(dt.UTC)
                started = time.perf_counter()
                partial.rename(inbox / NEW_FILE)
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
                    "PASS" if visible <= FRESHNESS_TARGET else "MISS",
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
        if arguments.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        for failure in failures:
            progress(f"FAILED: {failure}")
    width = max(len(row[0]) for row in results)
    print(f"Rempart freshness benchmark ({os.cpu_count()} CPUs)")
    print(f"{'measure'.ljust(width)}  {'value':>9}  {'target':>9}  verdict")
    for label, value, target, verdict in results:
        print(f"{label.ljust(width)}  {value:>9}  {target:>9}  {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
