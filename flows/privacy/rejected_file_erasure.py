"""A person's identifiers out of the files Rempart rejected.

Quarantined (rejected) copies and their reports that mention one of the identifiers, found by
their keyed hashes among the tokens of the files' text, are deleted; a rejection message in
the registry (`raw.files.error`) that quotes one has it replaced by `[erased]`.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import psycopg

from flows.runtime.settings import Settings
from loaders.archive import destroy_file

# What may be an identifier in a rejected file's text: runs without space or punctuation
# that JSON, CSV and XML put around values.
TOKEN = re.compile(r"[^\s\x00,;|\"'<>{}\[\]()=]+")
MAX_TOKENS = 200_000


def _texts(path: Path) -> str:
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            parts = [
                workbook.read(entry).decode("utf-8", "replace")
                for entry in workbook.namelist()
                if entry.endswith(".xml") and workbook.getinfo(entry).file_size < 64 << 20
            ]
        return re.sub(r"<[^>]*>", " ", " ".join(parts))
    return data.decode("utf-8", "replace") + " " + data.decode("cp1252", "replace")


def _matching_tokens(
    conn: psycopg.Connection, text: str, hashes: set[tuple[str, str]]
) -> list[str]:
    tokens = sorted(set(TOKEN.findall(text)))[:MAX_TOKENS]
    values = sorted({identifier_hash for _, identifier_hash in hashes})
    return [
        token
        for (token,) in conn.execute(
            "select token from unnest(%s::text[]) as token "
            "where privacy.identifier_hash(token) = any(%s)",
            (tokens, values),
        )
    ]


def erase_rejected(
    conn: psycopg.Connection, settings: Settings, hashes: set[tuple[str, str]]
) -> tuple[int, int]:
    removed = 0
    if settings.quarantine_dir.is_dir():
        for report in sorted(settings.quarantine_dir.glob("*.error.json")):
            copy = report.with_name(report.name.removesuffix(".error.json"))
            text = _texts(report) + (" " + _texts(copy) if copy.is_file() else "")
            if _matching_tokens(conn, text, hashes):
                for path in (copy, report):
                    if path.is_file():
                        destroy_file(path)
                removed += 1
    redacted = 0
    with conn.transaction():
        for file_id, error in conn.execute(
            "select file_id, error from raw.files where error is not null"
        ).fetchall():
            found = _matching_tokens(conn, error, hashes)
            if found:
                for token in found:
                    error = error.replace(token, "[erased]")
                conn.execute("update raw.files set error = %s where file_id = %s", (error, file_id))
                redacted += 1
    return removed, redacted
