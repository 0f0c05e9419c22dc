"""`rempart ingest`: land the inbox (or given files) with progress and a summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from flows.runtime.database import DatabaseError, role_connection
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.warehouse import upload_records
from flows.warehouse.provision import prepare_database
from loaders.landing import LandingConfig, LandingResult, inbox_files, land_file
from loaders.schema import LOADER_ROLE


def landing_config(settings: Settings) -> LandingConfig:
    secrets = SecretStore(settings.secrets_dir)
    return LandingConfig(
        archive_dir=settings.archive_dir,
        quarantine_dir=settings.quarantine_dir,
        archive_key=secrets.get_bytes("archive_key"),
        actor=settings.user,
        max_bytes=settings.max_file_size_mb * 1024 * 1024,
        csv_encoding=settings.csv_encoding,
        trace_dir=settings.state_dir / "logs",
    )


def expand(paths: Sequence[Path], settings: Settings) -> list[Path]:
    """The files to land: the given ones (folders expanded), or everything in the inbox."""
    if not paths:
        return inbox_files(settings.inbox_dir)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(inbox_files(path))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def ingest(
    settings: Settings, paths: Sequence[Path] = (), console: Console | None = None
) -> list[LandingResult]:
    """Land each file in its own transaction; one file's failure does not stop the others."""
    console = console or Console(stderr=True)
    files = expand(paths, settings)
    if not files:
        console.print(f"nothing to ingest: no file in {settings.inbox_dir}")
        return []
    prepare_database(settings)
    config = landing_config(settings)
    results: list[LandingResult] = []
    interactive = console.is_terminal
    with role_connection(settings, LOADER_ROLE).connect(
        autocommit=True, application_name="rempart-loader"
    ) as conn:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not interactive,
        )
        with progress:
            for position, path in enumerate(files, start=1):
                size = path.stat().st_size if path.exists() else 0
                if not interactive:
                    console.print(
                        f"[{position}/{len(files)}] landing {path.name} ({size:,} bytes)",
                        soft_wrap=True,
                        markup=False,
                    )
                task = progress.add_task(path.name, total=size or 1)
                uploader = upload_records.uploader_of(path, settings.inbox_dir)
                result = _land_one(
                    conn,
                    path,
                    replace(config, actor=uploader) if uploader else config,
                    lambda done, task=task, size=size: progress.update(task, completed=done * size),
                )
                progress.update(task, completed=size or 1)
                if uploader and result.status != "skipped":
                    upload_records.forget(path, settings.inbox_dir)
                results.append(result)
                if not interactive:
                    console.print(
                        f"[{position}/{len(files)}] {path.name}: {result.status}"
                        f"{f' ({result.message})' if result.message else ''}"
                    )
    console.print(summary_table(results))
    return results


def _land_one(
    conn: psycopg.Connection, path: Path, config: LandingConfig, progress: Callable[[float], None]
) -> LandingResult:
    try:
        return land_file(conn, path, config, progress)
    except psycopg.OperationalError as error:
        raise DatabaseError(f"lost the database while landing {path.name}: {error}") from error


def summary_table(results: Sequence[LandingResult]) -> Table:
    table = Table(title="Ingest summary")
    for column, justify in (
        ("file", "left"),
        ("status", "left"),
        ("rows", "right"),
        ("seconds", "right"),
        ("detail", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    styles = {"landed": "green", "duplicate": "yellow", "failed": "red", "skipped": "dim"}
    for result in results:
        table.add_row(
            result.file_name,
            f"[{styles.get(result.status, '')}]{result.status}[/]",
            f"{result.rows:,}",
            f"{result.seconds:.2f}",
            result.message,
        )
    return table


def exit_code(results: Sequence[LandingResult]) -> int:
    """0 when every file landed (or was a duplicate), 3 when some were rejected."""
    return 3 if any(result.status == "failed" for result in results) else 0
