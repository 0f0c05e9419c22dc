"""`rempart privacy register|report|erase`: personal data, where it goes, how long it stays,
what Rempart holds about one person, and that person erased."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings


def register_command(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.register import RegisterError, write_register

    try:
        written = write_register(settings, arguments.to)
    except RegisterError as error:
        raise CommandError(str(error)) from error
    print(f"register of processing written to {written}")
    return 0


def _identifier(arguments: argparse.Namespace) -> tuple[str, str]:
    kind, value = (
        ("email", arguments.email) if arguments.email else ("employee_id", arguments.employee_id)
    )
    if value == "-":  # read from standard input: kept out of the shell history and `ps`
        value = sys.stdin.readline().strip()
        if not value:
            raise CommandError(f"no {kind.replace('_', ' ')} on standard input")
    return kind, value


@needs_database
def report(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.subject import SubjectError, render, subject_access

    kind, value = _identifier(arguments)
    try:
        print(render(subject_access(settings, kind, value), kind.replace("_", " ")))
    except SubjectError as error:
        raise CommandError(str(error)) from error
    return 0


@needs_database
def erase(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.erasure import ErasureError
    from flows.privacy.erasure import erase as erase_person
    from flows.privacy.subject import SubjectError

    kind, value = _identifier(arguments)
    try:
        done = erase_person(settings, kind, value)
    except (ErasureError, SubjectError) as error:
        raise CommandError(str(error)) from error
    print(done.summary())
    print(
        "erasure recorded (keyed hashes only) in the erasure register and beside the "
        "backup sets: a restore of an older set applies it again, and a later file that "
        "brings the person back is flagged"
    )
    if not (done.rows_removed or done.history_removed):
        print("erasure: no landed row held the person; the marts need no rebuild")
        return 0
    print("erasure: rebuilding the marts without the person (a full-refresh run)")
    from flows.cli.run_loop import run_pipeline

    return run_pipeline(settings, full_refresh=True)


def _who(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's e-mail address ('-': read it from stdin)")
    who.add_argument("--employee-id", help="the person's employee ID ('-': read it from stdin)")


def register(commands: argparse._SubParsersAction) -> None:
    privacy = commands.add_parser(
        "privacy", help="personal data: the register of processing, subject access, erasure"
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
    _who(access)
    access.set_defaults(run=report)
    erasing = actions.add_parser(
        "erase",
        help="the right to erasure: this person's rows out of the warehouse, the archive, the "
        "quarantine and the marts' history, the marts rebuilt (audited, without the identifier)",
    )
    _who(erasing)
    erasing.set_defaults(run=erase)
