"""What every command group shares."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Command = TypeVar("Command", bound=Callable[..., int])


class CommandError(RuntimeError):
    """A failure the user can act on: printed as one line, exit code 1, no traceback."""


def needs_database(command: Command) -> Command:
    """Marks a command that works on the warehouse: `main` prepares the database (schemas,
    roles, keys: idempotent and quick) once, before running it."""
    command.needs_database = True  # type: ignore[attr-defined]
    return command


def read_passphrase(passphrase_file: Path | None, confirm: bool) -> str:
    """From a file (scripts), else typed (twice if `confirm`) at the terminal, never echoed."""
    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").rstrip("\n")
    passphrase = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("the same passphrase again: ") != passphrase:
        raise CommandError("the two passphrases differ: nothing written")
    return passphrase
