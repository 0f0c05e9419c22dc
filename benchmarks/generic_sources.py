"""Generic sources benchmark: what a source declared by seed lines alone costs per build,
against the same rows read by a model of its own.

Why: a `long` or `wide` source needs no SQL (int_generic_values_parsed), but that model is a
table rebuilt at every build, so that a changed seed applies to every file already landed;
a custom source's model (int_sales_values_parsed) is incremental and reads only new files.
The README says when a model is the better path; this measures it.

What is measured, in one run, on a throw-away embedded PostgreSQL server and a copy of the
project (so the user's database, seeds and `target/` are never touched): the same rows, once
as a French sales export (custom source `sales_fr`) and once as a file of a long generic
source declared by seed lines (`bench_long`, the same headers, its own KPI codes). Both big
files land and `rempart run` builds everything; then a small file of 1% more rows lands for
each source and `rempart run` builds again (an incremental build). From dbt's
run_results.json: the seconds of each parsing model in both builds, and their ratio.

    .venv/bin/python -m benchmarks.generic_sources [--rows N]

Results go to stdout, progress to stderr; the exit status is 1 only if a run failed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness.installation import installation, work_folder
from benchmarks.harness.options import argument_parser
from benchmarks.harness.report import progress

HEADER = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité\n"
KPIS = {"sales_fr": ["chiffre_affaires", "unites_vendues"], "bench_long": ["bench_ca", "bench_uv"]}
SEED_LINES = {
    "source_kinds.csv": [
        'bench_long,^bench_long_.*\\.csv$,dmy,",",35,365,keep,long,sales,Benchmark source'
    ],
    "kpi_definitions.csv": [
        "bench_ca,Bench revenue,bench_long,EUR,higher_is_better,sum,,drop,Benchmark",
        "bench_uv,Bench units,bench_long,units,higher_is_better,sum,,drop,Benchmark",
    ],
}
PROJECT_PARTS = ("flows", "loaders", "models", "macros", "seeds", "dbt_project")
PROJECT_FILES = ("dbt_project.yml", "pyproject.toml")
MODELS = {"sales_fr": "int_sales_values_parsed", "bench_long": "int_generic_values_parsed"}


def write_rows(path: Path, source: str, first: int, count: int) -> None:
    """`count` rows with distinct business keys (day, KPI, subcategory), from key `first`."""
    codes = KPIS[source]
    day0 = dt.date(2020, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        for key in range(first, first + count):
            day = day0 + dt.timedelta(days=key % 3650)
            code = codes[(key // 3650) % 2]
            line = key // 7300
            handle.write(f"{day:%d/%m/%Y};Ventes;Boissons;ligne {line};{code};{key % 997},50;EUR\n")


def copy_project(project_dir: Path, target: Path) -> None:
    target.mkdir()
    for part in PROJECT_PARTS:
        shutil.copytree(
            project_dir / part, target / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in PROJECT_FILES:
        shutil.copyfile(project_dir / name, target / name)
    for seed, lines in SEED_LINES.items():
        with (target / "seeds" / seed).open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))


def node_seconds(target: Path) -> dict[str, float]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: float(r["execution_time"]) for r in results}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, __file__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows per source (big file)")
    arguments = parser.parse_args(argv)
    from flows.runtime.settings import PROJECT_DIR

    with work_folder("rempart-generic-bench-") as work:
        project = work / "project"
        copy_project(PROJECT_DIR, project)
        small = max(1, arguments.rows // 100)
        with installation(work, env={"REMPART_SUPERSET_SYNC": "false"}) as made:
            figures: dict[str, dict[str, float]] = {}
            for label, first, count, suffix in (
                ("full build", 0, arguments.rows, "big"),
                ("incremental build", arguments.rows, small, "small"),
            ):
                for source in MODELS:
                    write_rows(made.inbox / f"{source}_{suffix}.csv", source, first, count)
                progress(f"{label}: landing {count:,} rows per source, then rempart run...")
                started = time.perf_counter()
                # The copy's own flows, not the installed ones: they read the copy's seeds.
                done = subprocess.run(
                    [sys.executable, "-m", "flows.cli", "run"],
                    cwd=project,
                    env=made.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                wall = time.perf_counter() - started
                if done.returncode != 0:
                    print(f"{label}: rempart run failed\n{done.stderr[-3000:]}")
                    return 1
                seconds = node_seconds(work / "target")
                figures[label] = {source: seconds[model] for source, model in MODELS.items()}
                figures[label]["run"] = wall

    print(f"rows per source: {arguments.rows:,}, then {small:,} more")
    print(f"{'build':<20}{'custom (incremental)':>22}{'generic (table)':>18}{'ratio':>8}{'run':>9}")
    for label, row in figures.items():
        ratio = row["bench_long"] / row["sales_fr"] if row["sales_fr"] else float("inf")
        print(
            f"{label:<20}{row['sales_fr']:>20.2f} s{row['bench_long']:>16.2f} s"
            f"{ratio:>7.1f}x{row['run']:>7.1f} s"
        )
    full, incremental = figures["full build"], figures["incremental build"]
    print(
        "share of the full build's parsing time an incremental build pays: "
        f"custom {incremental['sales_fr'] / full['sales_fr']:.0%}, "
        f"generic {incremental['bench_long'] / full['bench_long']:.0%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
