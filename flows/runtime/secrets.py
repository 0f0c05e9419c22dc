"""The secrets store: generated on first use, 0600 files, never printed.

A secret named `archive_key` is read, in order of precedence, from the file named by
`REMPART_ARCHIVE_KEY_FILE` (Docker-secrets style) or from `<state>/secrets/archive_key`,
which is created with fresh random content the first time it is asked for.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

# Every secret Rempart uses, and how to generate it. Keys are 32 random bytes (hex encoded,
# AES-256 and HMAC-SHA256 sized); passwords are URL-safe so they survive URLs and pgpass files.
KNOWN_SECRETS: dict[str, str] = {
    "archive_key": "key",
    "audit_key": "key",
    "pseudonymisation_key": "key",
    "backup_key": "key",
    "superset_secret_key": "key",
    "superset_admin_password": "password",
    "db_admin_password": "password",
    "redis_password": "password",
    "metrics_token": "password",
}


# A retired key (one that still reads what it sealed, e.g. the audit trail's earlier epochs)
# is kept beside the current one as `<name>.retired-<fingerprint>`.
RETIRED_MARK = ".retired-"


class SecretError(RuntimeError):
    """A secret cannot be read or created."""


def _generate(kind: str) -> str:
    if kind == "key":
        return secrets.token_hex(32)
    return secrets.token_urlsafe(24)


class SecretStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        override = os.environ.get(f"REMPART_{name.upper()}_FILE")
        return Path(override) if override else self.directory / name

    def get(self, name: str) -> str:
        """Return the secret, creating it (mode 0600) if it does not exist yet."""
        path = self.path(name)
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if not value:
                raise SecretError(f"secret file {path} is empty")
            return value
        if os.environ.get(f"REMPART_{name.upper()}_FILE"):
            raise SecretError(f"REMPART_{name.upper()}_FILE points to {path}, which does not exist")
        return self._create(name, path)

    def get_bytes(self, name: str) -> bytes:
        """A key secret as raw bytes (32 bytes for the generated ones)."""
        value = self.get(name)
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value.encode("utf-8")

    def _create(self, name: str, path: Path) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        value = _generate(KNOWN_SECRETS.get(name, "password"))
        # Written whole to a private temporary file, then linked into place: a concurrent
        # reader never sees a half-written secret, and of two racing writers only one wins.
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        finally:
            os.unlink(temporary)
        return value

    def is_external(self, name: str) -> bool:
        """Supplied from outside (REMPART_<NAME>_FILE): not Rempart's to rewrite."""
        return bool(os.environ.get(f"REMPART_{name.upper()}_FILE"))

    def write(self, name: str, value: str) -> None:
        """Replace a secret whole (a reader sees the old value or the new, never half)."""
        if self.is_external(name):
            raise SecretError(
                f"{name} comes from REMPART_{name.upper()}_FILE: replace it where it is kept"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path(name))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def new_value(self, name: str) -> str:
        return _generate(KNOWN_SECRETS.get(name, "password"))

    def retire(self, name: str, fingerprint: str) -> None:
        """Keep the current value as a retired one (before the current one is replaced)."""
        retired = f"{name}{RETIRED_MARK}{fingerprint}"
        if not self.path(retired).exists():
            self.write(retired, self.get(name))

    def retired_bytes(self, name: str) -> list[bytes]:
        found = sorted(self.directory.glob(f"{name}{RETIRED_MARK}*"))
        return [self.get_bytes(path.name) for path in found]

    def keyring(self, name: str) -> list[bytes]:
        """The current key, then the retired ones (that still read what they sealed)."""
        return [self.get_bytes(name), *self.retired_bytes(name)]
