"""`rempart audit verify` and `rempart archive decrypt`: the trail and the archive."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import CommandError, needs_database
from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings


@needs_database
def verify(settings: Settings, arguments: argparse.Namespace) -> int:
    from loaders.audit import anchor_head, read_anchor, verify_chain

    keys = SecretStore(settings.secrets_dir).keyring("audit_key")
    anchor = read_anchor(settings.audit_anchor)
    with connection_info(settings).connect() as conn:
        report = verify_chain(conn, keys, anchor)
        if report.intact:
            anchor_head(conn, settings.audit_anchor)
    if report.intact:
        reach = f", up to the head anchored at event {anchor.event_id}" if anchor else ""
        print(f"audit trail intact: {report.events} events verified{reach}")
        return 0
    print(f"audit trail BROKEN at event {report.broken_event_id}: {report.problem}")
    return 4


def decrypt(settings: Settings, arguments: argparse.Namespace) -> int:
    from loaders.archive import ArchiveError, decrypt_file

    source, output = arguments.archive_file, arguments.output
    if not source.is_file():
        raise CommandError(f"no such archive: {source}")
    if output.exists():
        raise CommandError(f"{output} exists: choose another output path")
    key = SecretStore(settings.secrets_dir).get_bytes("archive_key")
    try:
        decrypt_file(source, output, key)
    except ArchiveError as error:
        raise CommandError(f"{source}: {error}") from error
    print(f"restored {output} ({output.stat().st_size:,} bytes)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit trail")
    audit_actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_actions.add_parser(
        "verify", help="check every event's keyed hash and chain link"
    ).set_defaults(run=verify)

    archive = commands.add_parser("archive", help="the encrypted archive of landed files")
    archive_actions = archive.add_subparsers(
        dest="archive_command", required=True, metavar="ACTION"
    )
    restore = archive_actions.add_parser("decrypt", help="restore an archived file")
    restore.add_argument("archive_file", type=Path, help="a .enc file from the archive")
    restore.add_argument("-o", "--output", type=Path, required=True, help="where to write it")
    restore.set_defaults(run=decrypt)
