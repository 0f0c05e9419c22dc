"""`rempart secrets export|import`: the secrets store, carried under a passphrase."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli.common import CommandError, read_passphrase
from flows.runtime.settings import Settings


def export(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.keys.transfer import SecretsExportError, export_secrets

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
    from flows.keys.transfer import SecretsExportError, import_secrets

    passphrase = read_passphrase(arguments.passphrase_file, confirm=False)
    try:
        written, present = import_secrets(arguments.source, settings.secrets_dir, passphrase)
    except (SecretsExportError, OSError) as error:
        raise CommandError(str(error)) from error
    print(f"{written} secrets imported into {settings.secrets_dir} ({present} already there)")
    return 0


def rotate(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.keys.rotation import RotationError
    from flows.keys.rotation import rotate as rotate_key

    try:
        rebuild = full_refresh_run if arguments.full_rebuild else None
        print(rotate_key(settings, arguments.name, rebuild=rebuild))
    except RotationError as error:
        raise CommandError(str(error)) from error
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    secrets = commands.add_parser("secrets", help="the secrets store: export, import, rotate")
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
    rotating = actions.add_parser(
        "rotate",
        help="replace a key or password and re-seal what it sealed (audited): archive_key, "
        "audit_key, backup_key, pseudonymisation_key (--full-rebuild), db-passwords, "
        "db_<role>_password",
    )
    rotating.add_argument("name", metavar="NAME", help="the secret to rotate")
    rotating.add_argument(
        "--full-rebuild",
        action="store_true",
        help="for pseudonymisation_key: rebuild the marts from raw with the new pseudonyms",
    )
    rotating.set_defaults(run=rotate)
    for command in (exporting, importing):
        command.add_argument(
            "--passphrase-file", type=Path, help="read the passphrase from this file (scripts)"
        )


def full_refresh_run(settings: Settings) -> int:
    """The pipeline run that rebuilds every mart from raw (a new pseudonymisation key)."""
    from flows.cli.run_loop import run_pipeline  # Prefect and dbt load only when a run is due

    return run_pipeline(settings, full_refresh=True)
