"""Running the pipeline from the command line: Prefect's environment, the run, the watch."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.secrets import SecretStore
from flows.settings import Settings

EXIT_CODES = {"success": 0, "files_rejected": 3, "build_failed": 4, "error": 5}


def prefect_environment(settings: Settings) -> None:
    """Prefect in its ephemeral mode, private to this state folder, silent to the outside.

    Without a `PREFECT_API_URL`, Prefect starts its API for the length of a run on 127.0.0.1
    (a random port, no UI) with its database under `<state>/prefect`; a generated password
    guards that API from other local users. With `PREFECT_API_URL` set, the team's server is
    used instead and none of this applies.
    """
    defaults = {
        "PREFECT_HOME": str(settings.state_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # The ephemeral server's own services log tracebacks when it is stopped mid-flush at the
        # end of a run; they are about its shutdown, not the run, and would alarm users.
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if not os.environ.get("PREFECT_API_URL"):
        password = SecretStore(settings.secrets_dir).get("prefect_api_password")
        os.environ["PREFECT_SERVER_API_AUTH_STRING"] = f"rempart:{password}"
        os.environ["PREFECT_API_AUTH_STRING"] = f"rempart:{password}"


def summary_table(summary: object) -> Table:
    from flows.pipeline import PipelineSummary

    assert isinstance(summary, PipelineSummary)
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
        table.add_row("models", f"{build.models_built} built, {build.models_failed} failed")
        table.add_row("tests", f"{build.tests_passed} passed, {build.tests_failed} failed")
        for failure in build.failures[:10]:
            table.add_row("", f"[red]{failure}[/]")
    table.add_row("published", summary.publish)
    table.add_row("dashboards", summary.sync)
    table.add_row("duration", f"{summary.seconds:.1f} s")
    colour = "green" if summary.outcome == "success" else "red"
    table.add_row("outcome", f"[{colour}]{summary.outcome}[/]")
    return table


def run_pipeline(
    settings: Settings,
    inbox: Path | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    console: Console | None = None,
) -> int:
    """Run the flow once; print the summary; return the exit code (and say why if not 0)."""
    console = console or Console(stderr=True)
    prefect_environment(settings)
    from flows.pipeline import BuildFailed, rempart_pipeline

    try:
        summary = rempart_pipeline(
            inbox=str(inbox) if inbox else None, select=select, full_refresh=full_refresh
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
    """Files whose size and time have not changed for `quiet_seconds`: fully written."""
    from loaders.landing import inbox_files

    now = time.time()
    ready: list[Path] = []
    current: dict[Path, tuple[int, float]] = {}
    for path in inbox_files(inbox):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        current[path] = (stat.st_size, stat.st_mtime)
        unchanged = seen.get(path) == current[path]
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
