"""The erasure register: who was erased, as keyed hashes of their identifiers, never the
identifiers, kept where a restore cannot lose it.

In the database, `privacy.erasures` (one row per identifier of an erasure); beside the backup
sets of every destination, a journal (`erasures.enc`), a copy of the whole register sealed
under the backup key. A backup restored later, made before an erasure, gets it applied again
from the journal (`flows/privacy/erasure.py`, `reapply_erasures`); a key rotation and a new
backup set write the journal again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import psycopg

from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from loaders.archive import ArchiveError, decrypt_stream, encrypt_file

JOURNAL = "erasures.enc"


def register_entries(conn: psycopg.Connection) -> list[dict[str, str]]:
    rows = conn.execute(
        "select erasure_id::text, erased_at, identifier_kind, identifier_hash "
        "from privacy.erasures order by erased_at, erasure_id, identifier_kind, "
        "identifier_hash"
    ).fetchall()
    return [
        {"erasure_id": e, "erased_at": t.isoformat(), "identifier_kind": k, "identifier_hash": p}
        for e, t, k, p in rows
    ]


def record_entries(conn: psycopg.Connection, entries: Iterable[dict[str, str]]) -> None:
    for entry in entries:
        conn.execute(
            "insert into privacy.erasures "
            "(erasure_id, erased_at, identifier_kind, identifier_hash) "
            "values (%s, %s, %s, %s) on conflict do nothing",
            (
                entry["erasure_id"],
                entry["erased_at"],
                entry["identifier_kind"],
                entry["identifier_hash"],
            ),
        )


def write_journals(settings: Settings, entries: list[dict[str, str]]) -> list[Path]:
    """The register, sealed under the backup key, beside the sets of every destination."""
    key = SecretStore(settings.secrets_dir).get_bytes("backup_key")
    document = json.dumps({"format": 1, "erasures": entries}, sort_keys=True).encode()
    written = []
    for destination in settings.backup_destinations:
        destination.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = destination / JOURNAL
        encrypt_file(io.BytesIO(document), path, key)
        written.append(path)
    return written


def read_journals(settings: Settings) -> list[dict[str, str]]:
    """Every erasure the destinations' journals hold (a journal that does not open under this
    backup key is another installation's, and ignored)."""
    key = SecretStore(settings.secrets_dir).get_bytes("backup_key")
    entries: dict[tuple[str, str, str], dict[str, str]] = {}
    for destination in settings.backup_destinations:
        path = destination / JOURNAL
        if not path.is_file():
            continue
        plain = io.BytesIO()
        try:
            with path.open("rb") as handle:
                decrypt_stream(handle, plain, key)
        except ArchiveError:
            continue
        for entry in json.loads(plain.getvalue())["erasures"]:
            entries[(entry["erasure_id"], entry["identifier_kind"], entry["identifier_hash"])] = (
                entry
            )
    return list(entries.values())
