"""The `rempart` command line: one module per command group, each adding its parser and the
function that runs it (`run(settings, arguments) -> exit code`).

A command imports what it runs inside its function: `rempart` then loads only what the
command asked for needs (Prefect, dbt, the web servers take seconds to import), and
`rempart db status` answers at once. Nothing else in `flows` imports inside a function but
a heavy optional library, with its reason beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from flows.cli import (
    audit,
    backup,
    database,
    maintenance,
    metrics,
    pipeline,
    privacy,
    redis,
    retention,
    secrets,
    sources,
    superset,
    upload,
)
from flows.cli.common import CommandError
from flows.runtime.database import DatabaseError
from flows.runtime.secrets import SecretError
from flows.runtime.settings import load_settings, variable_name
from flows.warehouse.provision import prepare_database
from loaders.schema import KeyMismatchError

GROUPS = (
    database,
    pipeline,
    superset,
    redis,
    audit,
    backup,
    sources,
    upload,
    retention,
    maintenance,
    metrics,
    privacy,
    secrets,
)
# These pass everything after their name through untouched.
PASSTHROUGH = (["dbt"], ["db", "psql"], ["db", "scratch"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rempart",
        description="Rempart: files in, governed KPI dashboards out, on your own machine.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    for prefix in PASSTHROUGH:
        if argv[: len(prefix)] == prefix:
            argv, passthrough = prefix, argv[len(prefix) :]
            break
    arguments = build_parser().parse_args(argv)
    arguments.passthrough = passthrough
    try:
        settings = load_settings()
        if getattr(arguments.run, "needs_database", False):
            prepare_database(settings)
        return arguments.run(settings, arguments)
    except ValidationError as error:
        problems = "; ".join(
            f"{variable_name(error.title, e['loc'])}: {e['msg']}" for e in error.errors()
        )
        print(f"rempart: error: invalid settings: {problems}", file=sys.stderr)
        return 2
    except (CommandError, DatabaseError, SecretError, KeyMismatchError, FileNotFoundError) as error:
        print(f"rempart: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rempart: interrupted", file=sys.stderr)
        return 130


__all__ = ["CommandError", "build_parser", "main"]
