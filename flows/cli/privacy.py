"""`rempart privacy register|report`: personal data, where it goes, how long it stays,
and what Rempart holds about one person."""

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


def report(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.subject import SubjectError, render, subject_access
    from flows.provision import prepare_database

    kind, value = (
        ("email", arguments.email)
        if arguments.email
        else (
            "employee_id",
            arguments.employee_id,
        )
    )
    prepare_database(settings)
    try:
        print(render(subject_access(settings, kind, value), kind.replace("_", " ")))
    except SubjectError as error:
        raise CommandError(str(error)) from error
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser(
        "privacy", help="personal data: the register of processing, subject access"
    )
    actions = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    writing = actions.add_parser(
        "register",
        help="write the register of processing from the PII tags and the seeds "
        "(default docs/register_of_processing.md)",
    )
    writing.add_argument("--to", type=Path, help="another file to write it to")
    writing.set_defaults(run=register_command)
    access = actions.add_parser(
        "report",
        help="subject access: every landed row that holds this person, and nobody else's "
        "(audited, without the identifier)",
    )
    who = access.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's e-mail address")
    who.add_argument("--employee-id", help="the person's employee ID")
    access.set_defaults(run=report)
