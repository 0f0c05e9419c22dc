from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.archive import (
    HEADER_BYTES,
    PLAIN_CHUNK,
    TAG_BYTES,
    ArchiveError,
    decrypt_stream,
    encrypt_stream,
)

KEY = bytes(range(32))


def _roundtrip(data: bytes, key: bytes = KEY) -> bytes:
    encrypted = io.BytesIO()
    encrypt_stream(io.BytesIO(data), encrypted, key)
    restored = io.BytesIO()
    decrypt_stream(io.BytesIO(encrypted.getvalue()), restored, key)
    return restored.getvalue()


@pytest.mark.parametrize(
    "size", [0, 1, PLAIN_CHUNK - 1, PLAIN_CHUNK, PLAIN_CHUNK + 1, 3 * PLAIN_CHUNK]
)
def test_roundtrip_at_chunk_boundaries(size: int) -> None:
    data = os.urandom(size)
    assert _roundtrip(data) == data


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=4096))
def test_roundtrip_any_bytes(data: bytes) -> None:
    assert _roundtrip(data) == data


def _encrypted(data: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, KEY)
    return out.getvalue()


def test_same_plaintext_never_gives_the_same_archive() -> None:
    assert _encrypted(b"same") != _encrypted(b"same")


def test_truncation_reordering_and_wrong_key_are_detected() -> None:
    data = os.urandom(2 * PLAIN_CHUNK + 10)
    blob = _encrypted(data)
    chunk = PLAIN_CHUNK + TAG_BYTES
    header, first, second, last = (
        blob[:HEADER_BYTES],
        blob[HEADER_BYTES : HEADER_BYTES + chunk],
        blob[HEADER_BYTES + chunk : HEADER_BYTES + 2 * chunk],
        blob[HEADER_BYTES + 2 * chunk :],
    )
    for forged in (header + first + second, header + second + first + last):
        with pytest.raises(ArchiveError, match="fails authentication"):
            decrypt_stream(io.BytesIO(forged), io.BytesIO(), KEY)
    with pytest.raises(ArchiveError, match="fails authentication"):
        decrypt_stream(io.BytesIO(blob), io.BytesIO(), bytes(32))
    with pytest.raises(ArchiveError, match="bad header"):
        decrypt_stream(io.BytesIO(b"plain text"), io.BytesIO(), KEY)


def test_a_destroyed_file_is_overwritten_before_it_goes(tmp_path: Path) -> None:
    from loaders.archive import destroy_file

    target = tmp_path / "copy.enc"
    target.write_bytes(b"secret" * 500_000)  # several chunks
    keep = tmp_path / "same-inode"
    os.link(target, keep)  # a second name shows what the blocks hold after
    destroy_file(target)
    assert not target.exists()
    left = keep.read_bytes()
    assert len(left) == 3_000_000 and b"secret" not in left
    destroy_file(target)  # already gone: nothing to do
