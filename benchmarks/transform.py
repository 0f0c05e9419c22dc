"""Transform benchmark: a full dbt build against an incremental one, over 1,000,000 landed rows.

Why: the marts are meant to refresh cheaply when a new file lands. The incremental models
(`fct_kpi_values`, `kpi_daily_summary`, the data-quality marts...) and the snapshot
`snap_kpi_values` read only what landed since their last run, so a build after a file of 1%
more rows should cost a small fraction of a build from scratch. Target: the incremental build
takes under 15% of the full build's time.

What is measured, in one run, on a throw-away embedded PostgreSQL server (so the user's
database and `target/` folder are never touched):

1. Two French sales exports (`sales_fr`: `;`-separated, Windows-1252, CRLF, dd/mm/yyyy dates,
   decimal commas, thousands separated by spaces) are generated, the same on every run: a big
   one of 1,000,000 rows (`--rows`) whose business keys (day, KPI, department, category,
   subcategory) are all distinct, spread over 2020-2029 and 400 subcategories; and a small one
   of 1% as many rows, later by name, half of them new keys and half updates of keys of the big
   file with another value (last write wins).
2. The big file lands, then the **full build**: `dbt build` (seeds, models, snapshot, tests and
   unit tests) into an empty warehouse.
3. The small file lands, then the **incremental build**: the same `dbt build`.
4. For reference, a `dbt build --full-refresh` over both files.

After the full and the incremental build, their marts are published from `marts_pending` into
`marts` as `rempart run` does (write-audit-publish, flows/warehouse/publish.py), timed
apart. Target: publishing the incremental build adds at most 20% to that build's time.

Both builds are the plain `dbt build` a scheduled run does. The full build tests every row;
the incremental one, as every incremental build, tests the rows landed since the last build
that passed (see the README's dbt section), so its tests cost what the small file brings.

Each figure is the wall-clock time of the whole `dbt build` command, dbt's start-up included,
after a CHECKPOINT so no build pays for the previous step's dirty buffers. A `dbt parse` runs
first, untimed, so every build starts from the same warm partial-parse cache. The ratio is
also given on dbt's own elapsed time (run_results.json), which leaves out the interpreter's
start-up: a fixed 2-3 s here that weighs on the incremental build alone. After each build
the database says what happened (distinct keys in `marts.fct_kpi_values`, the rows the
incremental run merged and how many of them were updates, the versions in
`snapshots.snap_kpi_values`), and dbt's `run_results.json` says where the time went: the five
slowest nodes of each build and the time spent per kind of node.

Planner statistics: the loader does not ANALYZE what it lands, nor dbt what it builds, so by
default the builds run on whatever statistics autovacuum has gathered, as in production; on
such estimates PostgreSQL can pick plans that are quadratic in the rows (a nested loop over a
CTE scan, say). `--analyze` runs ANALYZE on the raw tables after each landing (untimed), to
tell a bad plan from a real cost. Each build stops after `--timeout` seconds and then counts as
failed; the report says which queries were still running. The dbt project's sources (models,
macros, seeds, snapshots, tests) are fingerprinted before and after the run: figures from a
project edited meanwhile mix versions, and the report says so.

Run from the repository root:

    .venv/bin/python benchmarks/transform.py [--rows N] [--analyze] [--timeout S] [--keep]

The results go to stdout, progress to stderr. The target is marked PASS or MISS and never
changes the exit status, nor do unexpected counts (marked CHECK); it is 1 only when something
failed: a build (or one stopped at the timeout), or the parse or the landing the builds need.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.runtime.settings import Settings

SEED = 42
MB = 1_000_000
INCREMENT_SHARE = 0.01  # the small file's rows, as a share of the big file's
INCREMENTAL_TARGET = 0.15  # incremental build seconds / full build seconds
PUBLISH_TARGET = 0.20  # publishing the incremental build / that build's seconds
SLOWEST = 5  # nodes listed per build
LOG_TAIL_LINES = 40  # lines of dbt's output shown when a build fails
BUILD_TIMEOUT = 1800  # seconds, per build; a build stopped at this limit counts as failed
TIMED_OUT = -1  # the return code recorded for such a build

BIG_FILE = "sales_fr_2020-2029.csv"
SMALL_FILE = "sales_fr_2030-01.csv"  # later by name, and landed later

# -- test data ------------------------------------------------------------------------------

HEADER = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire"
FIRST_DAY = dt.date(2020, 1, 1)
DAYS = (dt.date(2029, 12, 31) - FIRST_DAY).days + 1  # 3,653
DEPARTMENTS = ["Ventes", "Support client", "Opérations"]
CATEGORIES = ["Boissons", "Épicerie", "Frais"]
SUBCATEGORIES = [f"ligne {number:04d}" for number in range(1, 401)]


@dataclass(frozen=True)
class Kpi:
    code: str
    unit: str
    low: int  # in units of 10**-decimals
    high: int
    decimals: int
    suffix: str  # sometimes written after the number, as people do


KPIS = [
    Kpi("chiffre_affaires", "EUR", 100_00, 25_000_00, 2, " €"),
    Kpi("unites_vendues", "unités", 0, 5_000, 0, ""),
    Kpi("panier_moyen", "EUR", 5_00, 80_00, 2, " €"),
    Kpi("taux_conversion", "%", 50, 9_99, 2, " %"),
]
COMMENTS = [
    "",
    "",
    "",
    "",
    "",
    "vérifié",
    "provisoire",
    "à confirmer en fin de mois",
    "écart expliqué par la saisonnalité",
    "promotion « été »",
    "opération cœur de gamme",
    "inventaire tournant, magasin fermé l'après-midi",
]

# Every business key is a number below KEY_SPACE (day, KPI, department, category, subcategory
# in mixed radix). Row i of the data set gets key (i * KEY_STRIDE + KEY_OFFSET) % KEY_SPACE:
# a bijection, since the stride is prime to the key space, so rows never share a key and their
# keys scatter over every day, department and subcategory.
KEY_SPACE = DAYS * len(KPIS) * len(DEPARTMENTS) * len(CATEGORIES) * len(SUBCATEGORIES)
KEY_STRIDE = 7_368_787
KEY_OFFSET = 1_234_567
assert math.gcd(KEY_STRIDE, KEY_SPACE) == 1

DATE_TEXTS = [(FIRST_DAY + dt.timedelta(days=day)).strftime("%d/%m/%Y") for day in range(DAYS)]
MASK64 = (1 << 64) - 1


def _mix(value: int) -> int:
    """SplitMix64: a cheap, well-spread 64-bit hash, so each value is a function of its key."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def key_of(position: int) -> int:
    return (position * KEY_STRIDE + KEY_OFFSET) % KEY_SPACE


def scaled_value(key: int, version: int) -> int:
    """The value of a key in a version of the data (0: the big file, 1: an update), scaled."""
    kpi = KPIS[(key // DAYS) % len(KPIS)]
    span = kpi.high - kpi.low + 1
    value = kpi.low + _mix((SEED << 60) ^ (key << 2) ^ version) % span
    if version and value == scaled_value(key, 0):
        value = kpi.low + (value - kpi.low + 1) % span  # an update always changes the value
    return value


def french_number(scaled: int, decimals: int, separator: str) -> str:
    """`1234567` with 2 decimals as `12 345,67`: spaces between thousands, a decimal comma."""
    units, fraction = divmod(scaled, 10**decimals)
    digits = str(units)
    groups = [digits[max(0, end - 3) : end] for end in range(len(digits), 0, -3)]
    text = separator.join(reversed(groups))
    return f"{text},{fraction:0{decimals}d}" if decimals else text


def csv_line(key: int, version: int) -> str:
    """One row of a `sales_fr` export, for a business key, as the French team writes it."""
    rest, day = divmod(key, DAYS)
    rest, kpi_index = divmod(rest, len(KPIS))
    rest, department = divmod(rest, len(DEPARTMENTS))
    subcategory, category = divmod(rest, len(CATEGORIES))
    kpi = KPIS[kpi_index]
    style = _mix(key ^ (version << 40) ^ 0x5EED)
    separator = "\u00a0" if style % 5 == 0 else " "  # some exports use no-break spaces
    value = french_number(scaled_value(key, version), kpi.decimals, separator)
    if kpi.suffix and (style >> 8) % 4 == 0:
        value += kpi.suffix
    return ";".join(
        (
            DATE_TEXTS[day],
            DEPARTMENTS[department],
            CATEGORIES[category],
            SUBCATEGORIES[subcategory],
            kpi.code,
            value,
            kpi.unit,
            COMMENTS[(style >> 16) % len(COMMENTS)],
        )
    )


def write_export(path: Path, lines: Iterator[str]) -> int:
    """A `sales_fr` export: Windows-1252, CRLF line ends, the header first. Returns its rows."""
    rows = 0
    with path.open("w", encoding="cp1252", newline="") as handle:
        handle.write(HEADER + "\r\n")
        for line in lines:
            handle.write(line + "\r\n")
            rows += 1
    return rows


@dataclass(frozen=True)
class DataPlan:
    rows: int  # big file
    new_keys: int  # small file: keys the big file lacks
    updates: int  # small file: keys of the big file, with another value

    @property
    def small_rows(self) -> int:
        return self.new_keys + self.updates

    @classmethod
    def for_rows(cls, rows: int) -> DataPlan:
        small = max(2, round(rows * INCREMENT_SHARE))
        updates = min(rows, small // 2)
        return cls(rows=rows, new_keys=small - updates, updates=updates)


def generate(workdir: Path, plan: DataPlan) -> tuple[Path, Path]:
    big, small = workdir / BIG_FILE, workdir / SMALL_FILE
    progress(f"generating {big.name} ({plan.rows:,} rows)...")
    started = time.perf_counter()
    write_export(big, (csv_line(key_of(position), 0) for position in range(plan.rows)))
    progress(f"  {big.stat().st_size / MB:.1f} MB in {time.perf_counter() - started:.1f} s")

    progress(
        f"generating {small.name} ({plan.small_rows:,} rows: {plan.new_keys:,} new keys, "
        f"{plan.updates:,} updates)..."
    )
    rng = random.Random(SEED)
    updated = rng.sample(range(plan.rows), plan.updates)
    new = range(plan.rows, plan.rows + plan.new_keys)  # positions past the big file's
    lines = [csv_line(key_of(position), 1) for position in updated]
    lines += [csv_line(key_of(position), 0) for position in new]
    rng.shuffle(lines)
    write_export(small, iter(lines))
    progress(f"  {small.stat().st_size / MB:.2f} MB")
    return big, small


# -- running dbt ----------------------------------------------------------------------------


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


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dbt_executable() -> str:
    from flows.runtime.settings import PROJECT_DIR

    for candidate in (Path(sys.executable).parent / "dbt", PROJECT_DIR / ".venv" / "bin" / "dbt"):
        if candidate.exists():
            return str(candidate)
    return "dbt"


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    seconds: float
    rows_affected: int | None
    message: str

    @property
    def resource_type(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def label(self) -> str:
        parts = self.unique_id.split(".")
        # test.<package>.<name>.<hash>; model.<package>.<name>; unit_test.<package>.<model>.<name>
        name = parts[2] if parts[0] == "test" and len(parts) > 3 else ".".join(parts[2:])
        return f"{parts[0]} {name}"

    @property
    def failed(self) -> bool:
        return self.status in ("error", "fail", "runtime error", "skipped")


@dataclass
class Build:
    label: str
    arguments: list[str]
    log_path: Path
    seconds: float = 0.0
    returncode: int | None = None
    dbt_seconds: float | None = None  # run_results.json's elapsed_time
    dbt_version: str = ""
    nodes: list[NodeResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # what the database says afterwards
    invocation_id: str = ""
    publish_seconds: float | None = None  # write-audit-publish into `marts` (warehouse/publish.py)
    publish_summary: str = ""

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def slowest(self, count: int = SLOWEST) -> list[NodeResult]:
        return sorted(self.nodes, key=lambda node: node.seconds, reverse=True)[:count]

    def seconds_by_type(self) -> dict[str, tuple[int, float]]:
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for node in self.nodes:
            totals[node.resource_type][0] += 1
            totals[node.resource_type][1] += node.seconds
        ordered = sorted(totals.items(), key=lambda item: item[1][1], reverse=True)
        return {kind: (int(count), seconds) for kind, (count, seconds) in ordered}


def read_run_results(build: Build, path: Path) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        progress(f"  cannot read {path}: {error}")
        return
    build.dbt_seconds = document.get("elapsed_time")
    build.dbt_version = document.get("metadata", {}).get("dbt_version", "")
    build.invocation_id = document.get("metadata", {}).get("invocation_id", "")
    for result in document.get("results", []):
        response = result.get("adapter_response") or {}
        build.nodes.append(
            NodeResult(
                unique_id=result.get("unique_id", "?"),
                status=str(result.get("status", "?")),
                seconds=float(result.get("execution_time") or 0.0),
                rows_affected=response.get("rows_affected"),
                message=str(result.get("message") or ""),
            )
        )


def describe_query(text: str) -> str:
    """`node <id>: <statement start>` from a query dbt sent (it opens with a JSON comment)."""
    node = ""
    if text.startswith("/*") and "*/" in text:
        comment, text = text[2:].split("*/", 1)
        try:
            node = str(json.loads(comment).get("node_id") or "")
        except ValueError:
            node = ""
    statement = " ".join(text.split())[:90]
    return f"node {node}: {statement}" if node else statement


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

    def checkpoint(self) -> None:
        from flows.runtime.database import connection_info

        with connection_info(self.settings).connect(autocommit=True) as conn:
            conn.execute("checkpoint")

    def server_description(self) -> str:
        from flows.runtime.database import connection_info

        facts: list[str] = []
        with connection_info(self.settings).connect(autocommit=True) as conn:
            for name in ("server_version", "shared_buffers", "work_mem", "max_parallel_workers"):
                row = conn.execute(f"show {name}").fetchone()
                facts.append(f"{name}={row[0] if row else '?'}")
        return "PostgreSQL " + ", ".join(facts)

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
        self.checkpoint()
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


def measure(bench: Benchmark, plan: DataPlan, big: Path, small: Path, timeout: float) -> None:
    """The steps in order; stops at the first failure, since later steps build on it."""
    if not bench.parse() or not bench.land(big, plan.rows):
        return
    full = bench.build("full", "full build (empty warehouse)", [], timeout)
    if full.failed:
        return
    bench.count_after(full)
    if not bench.publish(full):
        return
    progress(f"  {full.counts['fct_keys']:,} distinct KPI keys in marts.fct_kpi_values")
    if not bench.land(small, plan.small_rows):
        return
    incremental = bench.build("incremental", "incremental build (+1% rows)", [], timeout)
    if incremental.failed:
        return
    bench.count_after(incremental)
    if not bench.publish(incremental):
        return
    progress(
        f"  {incremental.counts['from_small_file']:,} rows from {SMALL_FILE}, "
        f"{incremental.counts['updated']:,} of them updates"
    )
    refresh = bench.build("refresh", "full refresh (reference)", ["--full-refresh"], timeout)
    if not refresh.failed:
        bench.count_after(refresh)


# -- the report -----------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _check(found: int, expected: int) -> str:
    return "ok" if found == expected else "CHECK"


def results_table(bench: Benchmark, plan: DataPlan) -> str:
    rows: list[tuple[str, str, str, str]] = []
    full, incremental = bench.builds.get("full"), bench.builds.get("incremental")
    refresh = bench.builds.get("refresh")

    def seconds(build: Build | None) -> str:
        if build is None:
            return "not run"
        if build.returncode == TIMED_OUT:
            return f"> {build.seconds:.0f} s"
        if build.failed:
            return "FAILED"
        return f"{build.seconds:.1f} s"

    rows.append(("full build (dbt build, empty warehouse)", seconds(full), "", ""))
    rows.append(("incremental build (dbt build, +1% rows)", seconds(incremental), "", ""))
    if full and incremental and not full.failed and not incremental.failed:
        ratio = incremental.seconds / full.seconds
        rows.append(
            (
                "incremental / full",
                f"{ratio:.1%}",
                f"< {INCREMENTAL_TARGET:.0%}",
                _verdict(ratio < INCREMENTAL_TARGET),
            )
        )
        if full.dbt_seconds and incremental.dbt_seconds:
            # dbt's own elapsed time leaves out the 2-3 s the interpreter takes to import dbt
            # and load the parse cache: what the builds cost, against what the command costs.
            rows.append(
                (
                    "  the same, dbt's elapsed time",
                    f"{incremental.dbt_seconds / full.dbt_seconds:.1%}",
                    "",
                    "info",
                )
            )
    else:
        rows.append(("incremental / full", "n/a", f"< {INCREMENTAL_TARGET:.0%}", "FAILED"))
    for build, what in ((full, "full"), (incremental, "incremental")):
        if build and build.publish_seconds is not None:
            rows.append(
                (
                    f"publish after the {what} build ({build.publish_summary})",
                    f"{build.publish_seconds:.2f} s",
                    "",
                    "info",
                )
            )
    if incremental and incremental.publish_seconds is not None and not incremental.failed:
        ratio = incremental.publish_seconds / incremental.seconds
        rows.append(
            (
                "publish / incremental build",
                f"{ratio:.1%}",
                f"<= {PUBLISH_TARGET:.0%}",
                _verdict(ratio <= PUBLISH_TARGET),
            )
        )
        published, built = incremental.counts["published_fct_rows"], incremental.counts["fct_rows"]
        rows.append(
            (
                "rows published in marts.fct_kpi_values",
                f"{published:,}",
                f"{built:,}",
                _check(published, built),
            )
        )
    rows.append(("full refresh (dbt build --full-refresh)", seconds(refresh), "", "info"))

    if full and full.counts:
        keys = full.counts["fct_keys"]
        rejected = full.counts["rejected_rows"]
        snapshot = full.counts["snapshot_rows"]
        rows += [
            (
                "distinct KPI keys after the full build",
                f"{keys:,}",
                f"{plan.rows:,}",
                _check(keys, plan.rows),
            ),
            ("rows rejected (dq_rejected_rows)", f"{rejected:,}", "0", _check(rejected, 0)),
            (
                "snapshot versions after the full build",
                f"{snapshot:,}",
                f"{plan.rows:,}",
                _check(snapshot, plan.rows),
            ),
        ]
    if incremental and incremental.counts:
        merged = incremental.counts["from_small_file"]
        updated = incremental.counts["updated"]
        rows.append(
            (
                "rows the incremental run merged",
                f"{merged:,}",
                f"{plan.small_rows:,}",
                _check(merged, plan.small_rows),
            )
        )
        rows.append(
            (
                "  of which updates (version_number > 1)",
                f"{updated:,}",
                f"{plan.updates:,}",
                _check(updated, plan.updates),
            )
        )
        keys = incremental.counts["fct_keys"]
        expected_keys = plan.rows + plan.new_keys
        rows.append(
            (
                "distinct KPI keys after it",
                f"{keys:,}",
                f"{expected_keys:,}",
                _check(keys, expected_keys),
            )
        )
        if full and full.counts:
            grown = incremental.counts["snapshot_rows"] - full.counts["snapshot_rows"]
            closed = incremental.counts["snapshot_closed"] - full.counts["snapshot_closed"]
            rows.append(
                (
                    "snapshot versions added by it",
                    f"{grown:,}",
                    f"{plan.small_rows:,}",
                    _check(grown, plan.small_rows),
                )
            )
            rows.append(
                (
                    "snapshot versions it closed",
                    f"{closed:,}",
                    f"{plan.updates:,}",
                    _check(closed, plan.updates),
                )
            )
            rows.append(
                (
                    "snapshot versions in all",
                    f"{incremental.counts['snapshot_rows']:,}",
                    "",
                    "",
                )
            )
    if refresh and refresh.counts and incremental and incremental.counts:
        same = refresh.counts["fct_rows"] == incremental.counts["fct_rows"] and (
            refresh.counts["updated"] == incremental.counts["updated"]
        )
        rows.append(
            (
                "full refresh gives the same fct_kpi_values",
                "yes" if same else "no",
                "yes",
                "ok" if same else "CHECK",
            )
        )

    width = max(len(row[0]) for row in rows)
    header = f"{'measure':<{width}}  {'value':>10}  {'expected':>10}  verdict"
    lines = [header, "-" * len(header)]
    lines += [
        f"{name:<{width}}  {value:>10}  {target:>10}  {verdict}".rstrip()
        for name, value, target, verdict in rows
    ]
    return "\n".join(lines)


def slowest_table(build: Build) -> str:
    dbt_seconds = f"{build.dbt_seconds:.1f} s" if build.dbt_seconds is not None else "n/a"
    lines = [
        f"{build.label}: {build.seconds:.1f} s wall clock, dbt's elapsed_time {dbt_seconds}, "
        f"{len(build.nodes)} nodes"
    ]
    if not build.nodes:
        lines.append("  (no run_results.json)")
        return "\n".join(lines)
    lines.append(f"  {'seconds':>8}  {'share':>6}  {'rows':>10}  {'status':<8}  node")
    wall = build.seconds or 1.0
    for node in build.slowest():
        counted = node.resource_type in ("model", "snapshot", "seed")  # a test's is its 1 row
        affected = node.rows_affected if counted else None  # and a view's is -1
        rows = f"{affected:,}" if affected is not None and affected >= 0 else ""
        lines.append(
            f"  {node.seconds:>8.2f}  {node.seconds / wall:>6.1%}  {rows:>10}  "
            f"{node.status:<8}  {node.label}"
        )
    by_type = ", ".join(
        f"{kind} {seconds:.1f} s ({count})"
        for kind, (count, seconds) in build.seconds_by_type().items()
    )
    lines.append(f"  node time by type (2 threads, so it may exceed the wall clock): {by_type}")
    return "\n".join(lines)


def report(
    bench: Benchmark,
    plan: DataPlan,
    server: str,
    sizes: dict[str, int],
    fingerprints: tuple[str, str],
) -> None:
    versions = {build.dbt_version for build in bench.builds.values() if build.dbt_version}
    if not versions:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.add(importlib.metadata.version("dbt-core"))
    print(
        f"Rempart transform benchmark ({server}; dbt {', '.join(sorted(versions)) or '?'}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(
        f"Data: {BIG_FILE} {plan.rows:,} rows ({sizes[BIG_FILE] / MB:.1f} MB), then "
        f"{SMALL_FILE} {plan.small_rows:,} rows ({plan.new_keys:,} new keys, "
        f"{plan.updates:,} updates)."
    )
    print(
        "Planner statistics: "
        + (
            "refreshed by ANALYZE of raw.files, raw.sheets, raw.records after each landing "
            "(--analyze)."
            if bench.analyze
            else "as the loader leaves them (no ANALYZE after landing)."
        )
    )
    before, after = fingerprints
    if before == after:
        print(f"dbt project sources: fingerprint {before}, unchanged during the run.")
    else:
        print(
            f"CHECK dbt project sources changed during the run ({before} -> {after}): "
            "the builds may have run different versions of the models."
        )
    landed = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in bench.landing_seconds.items())
    if landed:
        print(f"Landing (not part of the builds): {landed}.")
    print()
    print(results_table(bench, plan))
    for build in bench.builds.values():
        print()
        print(slowest_table(build))
    print()
    print(
        "Seconds: wall clock of the whole `dbt build` command (start-up, seeds, models,\n"
        "snapshot, tests and unit tests), after a CHECKPOINT, from a warm partial-parse cache.\n"
        "Node seconds and rows: dbt's run_results.json (execution_time, rows_affected)."
    )
    if bench.failures:
        print()
        for failure in bench.failures:
            print(f"FAILED {failure}")


# -- the run --------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    def positive(text: str) -> int:
        value = int(text.replace("_", "").replace(",", ""))
        if value < 1:
            raise argparse.ArgumentTypeError("must be at least 1")
        if value > KEY_SPACE // 2:
            raise argparse.ArgumentTypeError(f"at most {KEY_SPACE // 2:,} distinct keys")
        return value

    def positive_seconds(text: str) -> float:
        value = float(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive, default=1_000_000, help="rows of the big file")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=BUILD_TIMEOUT,
        help=f"stop a build after this many seconds and count it as failed "
        f"(default {BUILD_TIMEOUT})",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE the raw tables after each landing (untimed), which the loader does not do",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated files, dbt's logs and run results afterwards",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from flows.runtime.database import temporary_server
    from flows.runtime.settings import load_settings
    from flows.warehouse.provision import prepare_database

    plan = DataPlan.for_rows(arguments.rows)
    fingerprint_before = project_fingerprint()
    workdir = Path(tempfile.mkdtemp(prefix="rempart-transform-", dir="/tmp"))
    try:
        big, small = generate(workdir, plan)
        sizes = {big.name: big.stat().st_size, small.name: small.stat().st_size}
        progress("starting a throw-away PostgreSQL server...")
        with temporary_server(load_settings()) as scratch:
            settings = scratch.model_copy(
                update={
                    "inbox_dir": workdir / "inbox",
                    "archive_dir": workdir / "archive",
                    "quarantine_dir": workdir / "quarantine",
                    "max_file_size_mb": max(1024, sizes[big.name] // MB + 1),
                }
            )
            prepare_database(settings)  # what `rempart ingest` and `rempart dbt` run first
            bench = Benchmark(settings, workdir, analyze=arguments.analyze)
            server = bench.server_description()
            measure(bench, plan, big, small, arguments.timeout)
        report(bench, plan, server, sizes, (fingerprint_before, project_fingerprint()))
        return 1 if bench.failures else 0
    finally:
        if arguments.keep:
            progress(f"kept the files, dbt logs and run results in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
