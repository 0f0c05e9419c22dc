"""One streamed pass over a file's bytes: its SHA-256 and, for text, what a parser would trip on.

Reading a 100 MB file once instead of three times matters: this pass feeds the duplicate check
and the text validation (NUL bytes, undecodable bytes) that CSV landing needs before COPY.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from typing import BinaryIO

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int
    first_nul_offset: int | None = None  # byte offset of the first NUL, if any (text only)
    utf8_error_offset: int | None = None  # byte offset of the first non-UTF-8 byte (text only)


def digest_file(handle: BinaryIO, *, inspect_text: bool = False) -> FileDigest:
    """Hash everything readable from `handle` (rewound afterwards); optionally inspect text."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    nul: int | None = None
    bad_utf8: int | None = None
    handle.seek(0)
    while chunk := handle.read(CHUNK_SIZE):
        digest.update(chunk)
        if inspect_text:
            if nul is None and (found := chunk.find(b"\x00")) >= 0:
                nul = size + found
            if bad_utf8 is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    bad_utf8 = size + error.start
        size += len(chunk)
    if inspect_text and bad_utf8 is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_utf8 = max(0, size - 1)
    handle.seek(0)
    return FileDigest(digest.hexdigest(), size, nul, bad_utf8)


def line_of_offset(handle: BinaryIO, offset: int) -> tuple[int, int]:
    """(line, column) of a byte offset, both counted from 1, for error messages."""
    handle.seek(0)
    line, line_start, position = 1, 0, 0
    while position < offset and (chunk := handle.read(min(CHUNK_SIZE, offset - position))):
        line += chunk.count(b"\n")
        last_newline = chunk.rfind(b"\n")
        if last_newline >= 0:
            line_start = position + last_newline + 1
        position += len(chunk)
    handle.seek(0)
    return line, offset - line_start + 1
