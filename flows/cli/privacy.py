"""`rempart privacy register`: personal data, where it goes and how long it stays."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import CommandError
from flows.settings import Settings


def register_command(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.register import RegisterError, write_register

    try:
        written = write_register(settings, arguments.to)
    except RegisterError as error:
        raise CommandError(str(error)) from error
    print(f"register of processing written to {written}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser("privacy", help="personal data: the register of processing")
    actions = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    writing = actions.add_parser(
        "register",
        help="write the register of processing from the PII tags and the seeds "
        "(default docs/register_of_processing.md)",
    )
    writing.add_argument("--to", type=Path, help="another file to write it to")
    writing.set_defaults(run=register_command)
