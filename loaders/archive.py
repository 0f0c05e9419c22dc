"""Encrypted archive of landed files: AES-256-GCM, streamed in chunks, tamper-evident.

Format (version 1):

    header  = b"RMPRT\\x01" || salt (16 bytes) || nonce prefix (7 bytes)
    chunk_i = AES-256-GCM(key = HKDF-SHA256(archive key, salt),
                          nonce = prefix || i (4 bytes, big-endian) || last (1 byte),
                          plaintext = up to 1 MiB, associated data = header)

Each file gets its own key (random salt); the chunk counter stops reordering and the `last`
flag stops truncation: a file whose final chunk is missing does not decrypt.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"RMPRT\x01"
SALT_BYTES = 16
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + SALT_BYTES + PREFIX_BYTES
PLAIN_CHUNK = 1 << 20
TAG_BYTES = 16


class ArchiveError(RuntimeError):
    """An archive cannot be decrypted: wrong key, corrupted or tampered with."""


def _file_key(master_key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"rempart archive v1")
    return AESGCM(derived.derive(master_key))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_exact(handle: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size and (chunk := handle.read(size - len(data))):
        data += chunk
    return bytes(data)


def encrypt_stream(source: BinaryIO, target: BinaryIO, master_key: bytes) -> None:
    salt = secrets.token_bytes(SALT_BYTES)
    prefix = secrets.token_bytes(PREFIX_BYTES)
    header = MAGIC + salt + prefix
    cipher = _file_key(master_key, salt)
    target.write(header)
    index = 0
    current = _read_exact(source, PLAIN_CHUNK)
    while True:
        following = _read_exact(source, PLAIN_CHUNK) if len(current) == PLAIN_CHUNK else b""
        last = not following
        target.write(cipher.encrypt(_nonce(prefix, index, last), current, header))
        if last:
            return
        current, index = following, index + 1


def decrypt_stream(source: BinaryIO, target: BinaryIO, master_key: bytes) -> None:
    header = _read_exact(source, HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise ArchiveError("not a Rempart archive (bad header)")
    salt = header[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    prefix = header[len(MAGIC) + SALT_BYTES :]
    cipher = _file_key(master_key, salt)
    index = 0
    current = _read_exact(source, PLAIN_CHUNK + TAG_BYTES)
    while True:
        following = (
            _read_exact(source, PLAIN_CHUNK + TAG_BYTES)
            if len(current) == PLAIN_CHUNK + TAG_BYTES
            else b""
        )
        last = not following
        try:
            target.write(cipher.decrypt(_nonce(prefix, index, last), current, header))
        except InvalidTag as error:
            raise ArchiveError(
                f"chunk {index} fails authentication: the archive was altered, truncated, "
                "or the key is not the one it was made with"
            ) from error
        if last:
            return
        current, index = following, index + 1


def _write_atomically(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    """Write through a temporary file in the same folder, renamed into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        sync_folder(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sync_folder(folder: Path) -> None:
    """Make a rename durable: the caller deletes the only other copy once this returns."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def destroy_file(path: Path) -> None:
    """Overwrite a file with random bytes, chunk by chunk, then delete it: what it held is
    not left readable in its blocks. A missing file is already gone."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return
    with handle:
        remaining = os.fstat(handle.fileno()).st_size
        while remaining > 0:
            remaining -= handle.write(secrets.token_bytes(min(remaining, PLAIN_CHUNK)))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    sync_folder(path.parent)


def encrypt_file(source: BinaryIO, target: Path, master_key: bytes) -> None:
    source.seek(0)
    _write_atomically(target, lambda handle: encrypt_stream(source, handle, master_key))
    source.seek(0)


def decrypt_file(source: Path, target: Path, master_key: bytes) -> None:
    """Restore an archived file; nothing is written unless every chunk authenticates."""
    with source.open("rb") as handle:
        _write_atomically(target, lambda out: decrypt_stream(handle, out, master_key))


@contextlib.contextmanager
def produced_stream(producer: Callable[[BinaryIO], None]) -> Iterator[BinaryIO]:
    """A readable stream of what `producer` writes, run in a thread through a pipe, so
    neither side holds the whole in memory. The producer's failure is raised on exit."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as pipe:
                producer(pipe)
        except BaseException as error:  # raised to the reader below
            failure.append(error)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as stream:
            yield stream
    except BaseException:
        thread.join()
        # The reader's error (a truncated stream) is often the producer's failure seen from
        # the other side: the producer's says what went wrong (the chunk that failed).
        if failure and not isinstance(failure[0], BrokenPipeError):
            raise failure[0] from None
        raise
    thread.join()
    if failure:
        raise failure[0]


def opens_with(path: Path, master_key: bytes) -> bool:
    """Whether every chunk of this archived file authenticates under this key."""
    with path.open("rb") as handle, open(os.devnull, "wb") as discard:
        try:
            decrypt_stream(handle, discard, master_key)
        except ArchiveError:
            return False
    return True


def reencrypt_file(path: Path, old_key: bytes, new_key: bytes) -> None:
    """Seal an archived file under a new key, in place, never in clear on disk; the file is
    replaced only once every chunk of it was read authentic under the old key."""
    with path.open("rb") as handle:

        def write(out: BinaryIO) -> None:
            with produced_stream(lambda pipe: decrypt_stream(handle, pipe, old_key)) as plain:
                encrypt_stream(plain, out, new_key)

        _write_atomically(path, write)
