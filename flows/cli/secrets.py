"""`rempart secrets export|import`: the secrets store, carried under a passphrase."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import CommandError, read_passphrase
from flows.settings import Settings


def export(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.secrets_export import SecretsExportError, export_secrets

    passphrase = read_passphrase(arguments.passphrase_file, confirm=True)
    try:
        count = export_secrets(settings.secrets_dir, arguments.to, passphrase)
    except (SecretsExportError, OSError) as error:
        raise CommandError(str(error)) from error
    print(
        f"{count} secrets written to {arguments.to}, encrypted under your passphrase: "
        "keep it away from the backups, and the passphrase away from both"
    )
    return 0


def import_(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.secrets_export import SecretsExportError, import_secrets

    passphrase = read_passphrase(arguments.passphrase_file, confirm=False)
    try:
        written, present = import_secrets(arguments.source, settings.secrets_dir, passphrase)
    except (SecretsExportError, OSError) as error:
        raise CommandError(str(error)) from error
    print(f"{written} secrets imported into {settings.secrets_dir} ({present} already there)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    secrets = commands.add_parser("secrets", help="the secrets store: export and import")
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    exporting = actions.add_parser(
        "export", help="write every secret to a file encrypted under a passphrase you type"
    )
    exporting.add_argument(
        "--to", type=Path, required=True, help="the file to write (not existing)"
    )
    exporting.set_defaults(run=export)
    importing = actions.add_parser(
        "import", help="bring an export back into an empty (or identical) secrets store"
    )
    importing.add_argument("--from", dest="source", type=Path, required=True, help="an export")
    importing.set_defaults(run=import_)
    for command in (exporting, importing):
        command.add_argument(
            "--passphrase-file", type=Path, help="read the passphrase from this file (scripts)"
        )
