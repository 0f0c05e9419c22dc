"""Files people upload through the upload page: who sent which file, until it lands.

The page writes an upload under a temporary name in `<inbox>/.uploads/` (hidden: the loader
never takes it), then renames it into the inbox beside a record of its uploader
(`.uploads/<name>.json`: user, SHA-256, time). Landing reads that record, so the registry
and the audit trail name the person who uploaded the file rather than the operator running
the job; a record whose hash is not the file's (the file was replaced since) is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loaders.checksum import digest_file

PENDING_DIR = ".uploads"


@dataclass(frozen=True)
class UploadRecord:
    uploaded_by: str
    sha256: str
    uploaded_at: str


def pending_dir(inbox: Path) -> Path:
    return inbox / PENDING_DIR


def record_path(inbox: Path, name: str) -> Path:
    return pending_dir(inbox) / f"{name}.json"


def write_record(inbox: Path, name: str, record: UploadRecord) -> None:
    path = record_path(inbox, name)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record.__dict__), encoding="utf-8")
    temporary.replace(path)


def uploader_of(path: Path, inbox: Path) -> str | None:
    """Who uploaded this inbox file, if the upload page put it there and it is unchanged."""
    record = record_path(inbox, path.name)
    if path.parent != inbox or not record.is_file():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        uploader = str(data["uploaded_by"])
        expected = str(data["sha256"])
    except (OSError, ValueError, KeyError):
        return None
    with path.open("rb") as handle:
        if digest_file(handle).sha256 != expected:
            return None
    return uploader


def forget(path: Path, inbox: Path) -> None:
    record_path(inbox, path.name).unlink(missing_ok=True)
