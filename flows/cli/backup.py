"""`rempart backup create|list|verify|rotate`: encrypted sets that prove they restore."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from flows.backup.backup_set import BackupError, BackupSet, create_backups, list_sets
from flows.backup.verify import last_verifications, verify_set
from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings


def _all_sets(settings: Settings) -> dict[str, BackupSet]:
    return {s.path.name: s for d in settings.backup_destinations for s in list_sets(d)}


def _chosen(settings: Settings, name: str | None, doing: str) -> BackupSet:
    sets = _all_sets(settings)
    if not sets:
        raise CommandError(f"no backup set to {doing}: `rempart backup create` first")
    chosen = sets.get(name or max(sets))
    if chosen is None:
        folders = ", ".join(str(d) for d in settings.backup_destinations)
        raise CommandError(f"no complete set named {name} in {folders}")
    return chosen


@needs_database
def create(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        create_backups(settings)
    except BackupError as error:
        raise CommandError(str(error)) from error
    return 0


@needs_database
def verify(settings: Settings, arguments: argparse.Namespace) -> int:
    chosen = _chosen(settings, arguments.set_name, "verify")
    result = verify_set(settings, chosen.path)
    if result.passed:
        print(
            f"{chosen.path.name}: verified ({result.tables} tables restored and equal, "
            f"audit trail intact) in {result.seconds} s"
        )
        return 0
    for problem in result.problems:
        print(f"{chosen.path.name}: {problem}", file=sys.stderr)
    return 5


def restore(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.backup.restore import restore_set

    given = Path(arguments.set)
    chosen = given if given.is_dir() else _chosen(settings, arguments.set, "restore").path
    try:
        done = restore_set(settings, chosen, replace=arguments.replace)
    except BackupError as error:
        raise CommandError(f"{error}; nothing was changed") from error
    print(
        f"{done.name}: restored ({done.tables} tables equal to the manifest, audit trail "
        f"intact) in {done.seconds} s"
        + (f"; what it replaced is in {done.safety_set}" if done.safety_set else "")
    )
    print("every Superset session has ended: people log in again (rempart superset start)")
    if done.erasures_reapplied:
        print(
            f"{done.erasures_reapplied} erasure(s) logged after the set was made applied again; "
            "rebuilding the marts without them (a full-refresh run)"
        )
        from flows.cli.run_loop import run_pipeline

        return run_pipeline(settings, full_refresh=True)
    return 0


@needs_database
def rotate(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.backup.rotation import rotate as rotate_sets

    passed = {name for name, (ok, _) in last_verifications(settings).items() if ok}
    removed = rotate_sets(settings.backup, settings.state_dir, passed, dry_run=arguments.dry_run)
    print(f"{len(removed)} set(s) {'would be ' if arguments.dry_run else ''}removed")
    return 0


@needs_database
def show(settings: Settings, arguments: argparse.Namespace) -> int:
    verified = last_verifications(settings)
    now = datetime.now(UTC)
    for destination in settings.backup_destinations:
        in_destination = list_sets(destination)
        print(f"{destination}: {len(in_destination)} set(s)")
        for backup in in_destination:
            age = now - backup.created_at
            passed, when = verified.get(backup.path.name, (None, ""))
            state = (
                "never verified"
                if passed is None
                else (f"verified {when}" if passed else f"FAILED verification {when}")
            )
            print(
                f"  {backup.path.name}  {backup.size / 1e6:9.1f} MB  "
                f"{age.days} d {age.seconds // 3600} h old  {state}"
            )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser(
        "backup", help="encrypted backup sets: create, list, verify, restore, rotate"
    )
    actions = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    actions.add_parser(
        "create", help="one encrypted set (warehouse, Superset, archive) in REMPART_BACKUP_DIRS"
    ).set_defaults(run=create)
    actions.add_parser("list", help="the complete sets of each destination").set_defaults(run=show)
    checking = actions.add_parser(
        "verify", help="restore a set (default: the newest) into a throw-away server and compare"
    )
    checking.add_argument(
        "set_name", nargs="?", metavar="SET", help="e.g. rempart-20261203T020000Z"
    )
    checking.set_defaults(run=verify)
    restoring = actions.add_parser(
        "restore",
        help="bring a set back: warehouse, Superset's metadata, archive; onto an empty "
        "installation, or with --replace",
    )
    restoring.add_argument("set", metavar="SET", help="a set's name or the path of its folder")
    restoring.add_argument(
        "--replace",
        action="store_true",
        help="replace what this installation holds (it is backed up first)",
    )
    restoring.set_defaults(run=restore)
    rotation = actions.add_parser(
        "rotate",
        help="delete the sets beyond REMPART_BACKUP_KEEP_DAILY/_WEEKLY/_MONTHLY, never the "
        "last verified one",
    )
    rotation.add_argument("--dry-run", action="store_true", help="say what would go, delete none")
    rotation.set_defaults(run=rotate)
