"""Running the pipeline from the command line: the run, its summary and exit code, the watch."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.runtime.prefect_api import prefect_api, prefect_environment
from flows.runtime.settings import Settings
from flows.warehouse import build_state
from flows.warehouse.run_audit import LandingSummary, PipelineSummary, audit_run
from loaders.landing import inbox_files

EXIT_CODES = {"success": 0, "files_rejected": 3, "build_failed": 4, "error": 5}


def summary_table(summary: PipelineSummary) -> Table:
    table = Table(title="Rempart run", show_header=False)
    table.add_column("what")
    table.add_column("result")
    landing = summary.landing
    table.add_row(
        "files",
        f"{landing.landed} landed ({landing.rows:,} rows), {landing.duplicates} "
        f"duplicate, {landing.rejected} rejected, {landing.skipped} skipped",
    )
    for message in landing.rejected_files:
        table.add_row("", f"[red]rejected[/]: {message}")
    if summary.build:
        build = summary.build
        table.add_row(
            "models",
            f"{build.models_built} built, {build.models_failed} failed (built: {build.scope})",
        )
        table.add_row("tests", f"{build.tests_passed} passed, {build.tests_failed} failed")
        for failure in build.failures[:10]:
            table.add_row("", f"[red]{failure}[/]")
    table.add_row("published", summary.publish)
    if summary.erased_back:
        rows = sum(count for _, count in summary.erased_back)
        table.add_row(
            "erased people",
            f"[yellow]{rows} row(s) hold a person erased before[/] ("
            + ", ".join(f"{name}: {count}" for name, count in summary.erased_back)
            + "): see marts.dq_erased_subject_returns; `rempart privacy erase` removes them",
        )
    table.add_row("dashboards", summary.sync)
    table.add_row("duration", f"{summary.seconds:.1f} s")
    colour = "green" if summary.outcome == "success" else "red"
    table.add_row("outcome", f"[{colour}]{summary.outcome}[/]")
    return table


def _nothing_to_do(settings: Settings, inbox: Path | None) -> str | None:
    """Why this run need not even start its flow: no file waits, nothing changed since the
    last published build. None when in doubt (the flow then finds out, and says why)."""
    if inbox_files(inbox or settings.inbox_dir):
        return None
    try:
        return build_state.up_to_date(settings)
    except Exception:
        return None


def run_pipeline(
    settings: Settings,
    inbox: Path | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    console: Console | None = None,
    force: bool = False,
) -> int:
    """Run the flow once; print the summary; return the exit code (and say why if not 0)."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    if not (force or select or full_refresh) and (reason := _nothing_to_do(settings, inbox)):
        summary = PipelineSummary(
            landing=LandingSummary(), publish=reason, sync="not run: nothing was built"
        )
        summary.seconds = round(time.monotonic() - started, 1)
        audit_run(settings, summary)
        console.print(summary_table(summary))
        console.print(f"rempart run: {reason}", soft_wrap=True, markup=False)
        return 0
    prefect_environment(settings)
    from flows.pipeline import (  # Prefect and dbt: only when a run is due
        BuildFailed,
        rempart_pipeline,
    )

    try:
        summary = rempart_pipeline(
            inbox=str(inbox) if inbox else None,
            select=select,
            full_refresh=full_refresh,
            force=force,
        )
    except BuildFailed as failed:
        summary = failed.summary
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        console.print(f"rempart run: error: {reason}", soft_wrap=True, markup=False)
        return EXIT_CODES["error"]
    console.print(summary_table(summary))
    code = EXIT_CODES[summary.outcome]
    if code:
        console.print(
            f"rempart run: {summary.outcome}: {summary.reason}", soft_wrap=True, markup=False
        )
    return code


def _stable_files(
    inbox: Path, seen: dict[Path, tuple[int, float]], quiet_seconds: float
) -> list[Path]:
    """Files fully written: size and time unchanged since the last look, and the time at
    least `quiet_seconds` old. A file seen for the first time is taken at once when its time
    is already that old: writing a file keeps moving its time, and the tools that copy a
    time along (`mv`, `cp -p`, tar, rsync) set it once the data is complete."""
    now = time.time()
    ready: list[Path] = []
    current: dict[Path, tuple[int, float]] = {}
    for path in inbox_files(inbox):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        current[path] = (stat.st_size, stat.st_mtime)
        unchanged = seen.get(path, current[path]) == current[path]
        if unchanged and now - stat.st_mtime >= quiet_seconds:
            ready.append(path)
    seen.clear()
    seen.update(current)
    return ready


def watch(
    settings: Settings,
    interval: float = 5.0,
    quiet_seconds: float = 5.0,
    max_runs: int | None = None,
    console: Console | None = None,
    run: Callable[[Settings], int] | None = None,
) -> int:
    """Run the pipeline whenever complete files wait in the inbox; one run at a time."""
    console = console or Console(stderr=True)
    run = run or (lambda s: run_pipeline(s, console=console))
    console.print(f"watching {settings.inbox_dir} (every {interval:g} s; Ctrl-C stops)")
    seen: dict[Path, tuple[int, float]] = {}
    runs = 0
    with prefect_api(settings, console):
        # Import the flow (Prefect, dbt) now, not when the first file arrives.
        import flows.pipeline  # noqa: F401

        return _watch_loop(settings, interval, quiet_seconds, max_runs, console, run, seen, runs)


def _watch_loop(
    settings: Settings,
    interval: float,
    quiet_seconds: float,
    max_runs: int | None,
    console: Console,
    run: Callable[[Settings], int],
    seen: dict[Path, tuple[int, float]],
    runs: int,
) -> int:
    try:
        while max_runs is None or runs < max_runs:
            if _stable_files(settings.inbox_dir, seen, quiet_seconds):
                code = run(settings)
                runs += 1
                console.print(f"run {runs} finished with exit code {code}")
                seen.clear()
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped watching")
    return 0
