"""`rempart maintenance`: the nightly flow once (backup, verify, rotate, retention), e.g.
from cron."""

from __future__ import annotations

import argparse
import sys

from flows.runtime.settings import Settings


def maintenance(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.runtime.prefect_api import prefect_environment

    prefect_environment(settings)  # before Prefect is imported: it reads its settings then
    from flows.maintenance import MaintenanceFailed, rempart_maintenance

    try:
        outcome = rempart_maintenance()
    except MaintenanceFailed as failed:
        print(f"rempart maintenance: {failed}", file=sys.stderr)
        return 5
    print(
        f"backup {outcome['backup']} made and verified; "
        f"{len(outcome['rotated_out'])} old set(s) rotated out; "
        f"{outcome['retention'] or 'retention: nothing is due'}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "maintenance",
        help="the nightly job once: back up, verify the set restores, rotate old sets, "
        "apply retention",
    ).set_defaults(run=maintenance)
