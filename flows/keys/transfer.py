"""The secrets store, exported under a passphrase and imported back.

A backup holds data encrypted under keys of the secrets store and never the keys: without
an export of the store, kept apart from the backups, they cannot be read. The export is one
file:

    b"RMPSECRETS\\x01" || salt (16) || log2(N) (1) || r (1) || p (1) || nonce (12)
    || AES-256-GCM(key = scrypt(passphrase, salt, N, r, p), JSON {name: value}, header)

scrypt makes each guess of the passphrase cost about a second and 128 MiB; the header is
authenticated, so nobody can lower those costs in a stolen export.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"RMPSECRETS\x01"
SALT_BYTES = 16
NONCE_BYTES = 12
SCRYPT_LOG2_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
HEADER_BYTES = len(MAGIC) + SALT_BYTES + 3 + NONCE_BYTES
MIN_PASSPHRASE = 12


class SecretsExportError(RuntimeError):
    """An export cannot be written or read; the message says why."""


def _key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase.encode())


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise SecretsExportError(
            f"the passphrase must have at least {MIN_PASSPHRASE} characters (a sentence is best)"
        )


def stored_secrets(directory: Path) -> dict[str, str]:
    """Every secret file of the store (temporary files of a write in progress excepted)."""
    if not directory.is_dir():
        raise SecretsExportError(f"there is no secrets store at {directory}")
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(directory.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def export_secrets(directory: Path, target: Path, passphrase: str) -> int:
    """Write the store's secrets to `target`, encrypted; returns how many. Never overwrites."""
    check_passphrase(passphrase)
    if target.exists():
        raise SecretsExportError(f"{target} exists: choose another file")
    values = stored_secrets(directory)
    salt, nonce = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(NONCE_BYTES)
    header = MAGIC + salt + bytes([SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P]) + nonce
    key = _key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(values).encode("utf-8"), header)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(header + sealed)
        handle.flush()
        os.fsync(handle.fileno())
    return len(values)


def read_export(source: Path, passphrase: str) -> dict[str, str]:
    data = source.read_bytes()
    header = data[:HEADER_BYTES]
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise SecretsExportError(f"{source} is not an export of Rempart's secrets")
    salt = header[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    log2_n, r, p = header[len(MAGIC) + SALT_BYTES : len(MAGIC) + SALT_BYTES + 3]
    if log2_n < SCRYPT_LOG2_N or r < SCRYPT_R or p < SCRYPT_P:
        raise SecretsExportError(f"{source}: its key derivation is weaker than Rempart's")
    nonce = header[-NONCE_BYTES:]
    try:
        plain = AESGCM(_key(passphrase, salt, log2_n, r, p)).decrypt(
            nonce, data[HEADER_BYTES:], header
        )
    except InvalidTag as error:
        raise SecretsExportError(
            f"{source}: wrong passphrase, or the file was altered or truncated"
        ) from error
    return json.loads(plain)


def import_secrets(source: Path, directory: Path, passphrase: str) -> tuple[int, int]:
    """Write the exported secrets into the store: (written, already there). Refuses, and
    writes nothing, if any secret of the store differs from the export's."""
    values = read_export(source, passphrase)
    invalid = [name for name in values if "/" in name or name.startswith(".") or not name]
    if invalid:
        raise SecretsExportError(f"{source}: invalid secret name {invalid[0]!r}")
    present = stored_secrets(directory) if directory.is_dir() else {}
    conflicts = sorted(name for name, value in values.items() if present.get(name, value) != value)
    if conflicts:
        raise SecretsExportError(
            f"the store at {directory} already holds other values for {', '.join(conflicts)}: "
            "nothing imported (import into an empty store)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    written = 0
    for name, value in values.items():
        if name in present:
            continue
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
        os.replace(temporary, directory / name)
        written += 1
    return written, len(values) - written
