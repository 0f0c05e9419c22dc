"""`rempart ingest|examples|run|watch|docs|env|dbt`: the main job and its parts."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings
from flows.runtime.tools import tool_environment, venv_binary


@needs_database
def print_env(settings: Settings, arguments: argparse.Namespace) -> int:
    for key, value in tool_environment(settings).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


@needs_database
def dbt(settings: Settings, arguments: argparse.Namespace) -> int:
    return run_dbt(settings, arguments.passthrough)


def run_dbt(settings: Settings, args: list[str]) -> int:
    env = {**os.environ, **tool_environment(settings)}
    completed = subprocess.run(
        [venv_binary("dbt"), *args], cwd=settings.project_dir, env=env, check=False
    )
    return completed.returncode


def ingest(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.warehouse.landing import exit_code
    from flows.warehouse.landing import ingest as land

    return exit_code(land(settings, arguments.paths))


def copy_examples(settings: Settings, arguments: argparse.Namespace) -> int:
    source = settings.project_dir / "data" / "examples" / "files"
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    for example in sorted(source.iterdir()):
        shutil.copyfile(example, settings.inbox_dir / example.name)
        print(f"copied {example.name} into {settings.inbox_dir}")
    return 0


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.cli.run_loop import run_pipeline

    return run_pipeline(
        settings, arguments.inbox, arguments.select, arguments.full_refresh, force=arguments.force
    )


def watch(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.cli.run_loop import watch as watch_inbox

    return watch_inbox(settings, arguments.interval, arguments.quiet_seconds)


@needs_database
def docs(settings: Settings, arguments: argparse.Namespace) -> int:
    """Generate dbt docs and serve them on 127.0.0.1 only (the lineage graph)."""
    if run_dbt(settings, ["docs", "generate"]) != 0:
        raise CommandError("dbt docs generate failed (see above)")
    from flows.privacy.register import write_register

    register = write_register(settings)
    print(f"register of processing (personal data, who reads it, how long): {register}")
    port = str(arguments.port)
    print(f"dbt docs on http://127.0.0.1:{port} (Ctrl-C stops)")
    return run_dbt(
        settings, ["docs", "serve", "--host", "127.0.0.1", "--port", port, "--no-browser"]
    )


def register(commands: argparse._SubParsersAction) -> None:
    landing = commands.add_parser("ingest", help="land files (default: the inbox) into raw")
    landing.add_argument("paths", nargs="*", type=Path, help="files or folders (default: inbox)")
    landing.set_defaults(run=ingest)

    commands.add_parser("examples", help="copy the demo files into the inbox").set_defaults(
        run=copy_examples
    )

    job = commands.add_parser("run", help="the main job: ingest, dbt build, Superset sync")
    job.add_argument("--inbox", type=Path, help="inbox folder (default: REMPART_INBOX_DIR)")
    job.add_argument("--select", help="dbt node selection (default: everything)")
    job.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    job.add_argument(
        "--force",
        action="store_true",
        help="build even if no file landed and the project is unchanged since the last build",
    )
    job.set_defaults(run=run)

    watching = commands.add_parser("watch", help="run the pipeline whenever files arrive")
    watching.add_argument("--interval", type=float, default=5.0, help="seconds between looks")
    watching.add_argument(
        "--quiet-seconds",
        type=float,
        default=5.0,
        help="a file must stay unchanged this long before it is taken",
    )
    watching.set_defaults(run=watch)

    documentation = commands.add_parser(
        "docs", help="generate dbt docs and serve them on 127.0.0.1"
    )
    documentation.add_argument("--port", type=int, default=8580, help="port (default 8580)")
    documentation.set_defaults(run=docs)

    commands.add_parser(
        "env", help='print shell exports for dbt and psql: eval "$(rempart env)"'
    ).set_defaults(run=print_env)
    commands.add_parser(
        "dbt", help="run dbt with Rempart's connection settings (arguments go to dbt)"
    ).set_defaults(run=dbt)
