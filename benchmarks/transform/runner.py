"""The transform benchmark's steps on the throw-away warehouse: landing a file, running dbt
(stopped at a timeout), publishing the marts, and counting what they hold."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness.installation import checkpoint
from benchmarks.harness.report import progress
from benchmarks.harness.sales import SMALL_FILE
from benchmarks.transform.builds import TIMED_OUT, Build, describe_query, read_run_results

if TYPE_CHECKING:
    from flows.runtime.settings import Settings

LOG_TAIL_LINES = 40  # lines of dbt's output shown when a build fails
PROJECT_SOURCES = ("dbt_project.yml", "models", "macros", "seeds", "dbt_project")


def project_fingerprint() -> str:
    """A digest of the dbt project's sources, to notice edits made while the benchmark runs."""
    from flows.runtime.settings import PROJECT_DIR

    digest = hashlib.sha256()
    for name in PROJECT_SOURCES:
        root = PROJECT_DIR / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def dbt_executable() -> str:
    from flows.runtime.settings import PROJECT_DIR

    for candidate in (Path(sys.executable).parent / "dbt", PROJECT_DIR / ".venv" / "bin" / "dbt"):
        if candidate.exists():
            return str(candidate)
    return "dbt"


class Benchmark:
    def __init__(self, settings: Settings, workdir: Path, analyze: bool = False) -> None:
        from flows.runtime.tools import tool_environment

        self.settings = settings
        self.workdir = workdir
        self.analyze = analyze
        self.target_dir = workdir / "target"
        self.dbt = dbt_executable()
        self.env = {
            **os.environ,
            **tool_environment(settings),
            "DBT_TARGET_PATH": str(self.target_dir),
            "DBT_LOG_PATH": str(workdir / "logs"),
            "DBT_USE_COLORS": "false",  # the output goes to a log file
        }
        self.env.pop("REMPART_DATABASE_URL", None)
        self.builds: dict[str, Build] = {}
        self.timeouts: list[str] = []
        self.landing_seconds: dict[str, float] = {}
        self.failures: list[str] = []

    # -- the database ----------------------------------------------------------------------

    def scalar(self, query: str, params: tuple[object, ...] = ()) -> int:
        from flows.runtime.database import connection_info

        with connection_info(self.settings).connect(autocommit=True) as conn:
            row = conn.execute(query, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- landing ---------------------------------------------------------------------------

    def land(self, source: Path, expected_rows: int) -> bool:
        """Land a copy of `source` as `rempart ingest` does (the loader removes what it lands)."""
        from flows.warehouse.landing import ingest

        inbox = self.settings.inbox_dir
        inbox.mkdir(parents=True, exist_ok=True)
        path = inbox / source.name
        shutil.copyfile(source, path)
        progress(f"landing {source.name} ({expected_rows:,} rows)...")
        started = time.perf_counter()
        results = ingest(self.settings, [path])
        self.landing_seconds[source.name] = time.perf_counter() - started
        if len(results) != 1 or results[0].status != "landed" or results[0].rows != expected_rows:
            found = ", ".join(f"{r.status} {r.rows:,} rows {r.message}" for r in results)
            self.failures.append(f"landing {source.name}: expected {expected_rows:,} rows, {found}")
            progress(f"  FAILED: {self.failures[-1]}")
            return False
        progress(f"  landed in {self.landing_seconds[source.name]:.1f} s")
        if self.analyze:
            self.refresh_statistics()
        return True

    def refresh_statistics(self) -> None:
        """ANALYZE the landing tables (untimed): what a loader that did so would leave."""
        from flows.runtime.database import connection_info

        started = time.perf_counter()
        with connection_info(self.settings).connect(autocommit=True) as conn:
            conn.execute("analyze raw.files, raw.sheets, raw.records")
        progress(
            f"  ANALYZE raw.files, raw.sheets, raw.records: {time.perf_counter() - started:.1f} s"
        )

    # -- dbt -------------------------------------------------------------------------------

    def run_dbt(
        self, arguments: list[str], log_path: Path, timeout: float | None = None
    ) -> tuple[int, float]:
        """Run dbt; past `timeout` seconds, say what it was doing, stop it and return -1."""
        from flows.runtime.settings import PROJECT_DIR

        with log_path.open("w", encoding="utf-8") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                [self.dbt, *arguments],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop_runaway_build(process, timeout or 0.0)
                returncode = TIMED_OUT
            seconds = time.perf_counter() - started
        return returncode, seconds

    def stop_runaway_build(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        """Note the queries still running, then stop dbt and its server sessions."""
        from flows.names import TRANSFORMER_ROLE
        from flows.runtime.database import connection_info

        query = (
            "select pid, round(extract(epoch from now() - query_start))::bigint, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 4000) "
            "from pg_stat_activity where usename = %s and state = 'active'"
        )
        with connection_info(self.settings).connect(autocommit=True) as conn:
            running = conn.execute(query, (TRANSFORMER_ROLE,)).fetchall()
            message = f"still running after {timeout:.0f} s, stopped"
            if running:
                message += "; queries then running: " + "; ".join(
                    f"{describe_query(text)} (for {seconds} s)" for _, seconds, text in running
                )
            self.timeouts.append(message)
            progress(f"  TIMEOUT: {message}")
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pid, _, _ in running:  # the server would run them to the end otherwise
                conn.execute("select pg_terminate_backend(%s)", (pid,))

    def parse(self) -> bool:
        progress("dbt parse (untimed: every build then starts from the same warm cache)...")
        returncode, seconds = self.run_dbt(["parse"], self.workdir / "dbt-parse.log")
        if returncode != 0:
            self.failures.append(f"dbt parse exited with {returncode}")
            progress(f"  FAILED: {self.failures[-1]}")
            self.show_log_tail(self.workdir / "dbt-parse.log")
            return False
        progress(f"  {seconds:.1f} s")
        return True

    def build(self, key: str, label: str, arguments: list[str], timeout: float) -> Build:
        build = self.builds[key] = Build(
            label, ["build", *arguments], self.workdir / f"dbt-{key}.log"
        )
        progress(f"{label}: dbt {' '.join(build.arguments)}...")
        checkpoint(self.settings)
        results_path = self.target_dir / "run_results.json"
        results_path.unlink(missing_ok=True)
        build.returncode, build.seconds = self.run_dbt(build.arguments, build.log_path, timeout)
        if results_path.exists():
            kept = self.workdir / f"run_results-{key}.json"
            shutil.copyfile(results_path, kept)
            read_run_results(build, kept)
        statuses: defaultdict[str, int] = defaultdict(int)
        for node in build.nodes:
            statuses[node.status] += 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        summary = f" ({summary})" if summary else ""
        if build.returncode == TIMED_OUT:
            self.failures.append(f"{label}: {self.timeouts[-1]}")
        elif build.failed:
            self.failures.append(f"{label}: dbt build exited with {build.returncode}")
        if build.failed:
            progress(f"  FAILED after {build.seconds:.1f} s{summary}")
            for node in build.nodes:
                if node.failed and node.status != "skipped":
                    progress(f"  {node.status}: {node.label}: {node.message}")
            self.show_log_tail(build.log_path)
        else:
            progress(f"  {build.seconds:.1f} s{summary}")
        return build

    @staticmethod
    def show_log_tail(log_path: Path) -> None:
        try:
            lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        progress(f"  last lines of {log_path}:")
        for line in lines[-LOG_TAIL_LINES:]:
            progress(f"    {line}")

    def count_after(self, build: Build) -> None:
        """What the warehouse holds after a build, from the database itself."""
        counts = build.counts
        counts["fct_rows"] = self.scalar("select count(*) from marts_pending.fct_kpi_values")
        counts["fct_keys"] = self.scalar(
            "select count(distinct kpi_value_id) from marts_pending.fct_kpi_values"
        )
        counts["from_small_file"] = self.scalar(
            "select count(*) from marts_pending.fct_kpi_values where source_file_name = %s",
            (SMALL_FILE,),
        )
        counts["updated"] = self.scalar(
            "select count(*) from marts_pending.fct_kpi_values "
            "where source_file_name = %s and version_number > 1",
            (SMALL_FILE,),
        )
        counts["snapshot_rows"] = self.scalar("select count(*) from snapshots.snap_kpi_values")
        counts["snapshot_closed"] = self.scalar(
            "select count(*) from snapshots.snap_kpi_values where dbt_valid_to is not null"
        )
        counts["rejected_rows"] = self.scalar("select count(*) from marts_pending.dq_rejected_rows")

    def publish(self, build: Build) -> bool:
        """Publish the build into `marts` as `rempart run` does; time it; check row counts."""
        from flows.warehouse import publish

        manifest = json.loads((self.target_dir / "manifest.json").read_text())
        progress(f"publishing the {build.label}...")
        started = time.perf_counter()
        try:
            report = publish.publish(self.settings, build.invocation_id, manifest)
        except Exception as error:
            self.failures.append(f"publishing the {build.label}: {error}")
            progress(f"  FAILED: {error}")
            return False
        build.publish_seconds = time.perf_counter() - started
        build.publish_summary = report.summary()
        build.counts["published_fct_rows"] = self.scalar(
            "select count(*) from marts.fct_kpi_values"
        )
        progress(f"  {build.publish_seconds:.2f} s: {build.publish_summary}")
        return True
