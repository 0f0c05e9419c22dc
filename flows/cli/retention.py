"""`rempart retention apply [--dry-run]`: remove what each source keeps no longer."""

from __future__ import annotations

import argparse

from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings


@needs_database
def apply(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.privacy.retention import RetentionError, apply_retention

    try:
        report = apply_retention(settings, dry_run=arguments.dry_run)
    except RetentionError as error:
        raise CommandError(str(error)) from error
    print(report.summary(arguments.dry_run))
    if arguments.dry_run or not report.due:
        return 0
    print("retention: rebuilding the marts without the removed files (a full-refresh run)")
    from flows.cli.run_loop import run_pipeline

    return run_pipeline(settings, full_refresh=True)


def register(commands: argparse._SubParsersAction) -> None:
    retention = commands.add_parser(
        "retention", help="each source's retention period (seeds/source_kinds.csv)"
    )
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    applying = actions.add_parser(
        "apply",
        help="remove the landed rows and copies of files past their source's period, then "
        "rebuild the marts without them (audited)",
    )
    applying.add_argument("--dry-run", action="store_true", help="list what is due, remove none")
    applying.set_defaults(run=apply)
