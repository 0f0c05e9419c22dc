"""A backup set of the session's real database, archive and quarantine: complete or absent,
every member authenticated, and any flipped byte or truncation named with its set, member
and chunk."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.backup.backup_set import BackupError, check_set, create_set, list_sets
from flows.runtime.secrets import SecretStore
from tests.conftest import run_rempart
from tests.integration.conftest import Landing


def _backup_key(landing: Landing) -> bytes:
    return SecretStore(landing.settings.secrets_dir).get_bytes("backup_key")


def test_a_set_holds_every_member_encrypted_and_checks(landing: Landing, tmp_path: Path) -> None:
    [result] = landing.ingest(landing.drop("backed_up.csv", "kpi,value\nbacked_up,42\n"))
    destination = tmp_path / "backups"
    made = create_set(landing.settings, destination, progress=lambda _: None)
    assert [s.path for s in list_sets(destination)] == [made.path]
    names = sorted(p.name for p in made.path.iterdir())
    assert names == [
        "archive.tar.enc",
        "manifest.json.enc",
        "quarantine.tar.enc",
        "superset.db.enc",
        "warehouse.dump.enc",
    ]
    for path in made.path.iterdir():  # nothing in clear: not the file's content, not a name
        data = path.read_bytes()
        assert b"backed_up" not in data and b"raw.records" not in data
    manifest = check_set(made.path, _backup_key(landing))
    tables = manifest["tables"]
    (count,) = landing.db.execute("select count(*) from raw.files").fetchone()
    assert tables["raw.files"]["rows"] == count
    assert tables["audit.events"]["rows"] > 0 and manifest["audit_head"]["event_id"] > 0
    (partitions,) = landing.db.execute(
        "select count(*) from pg_inherits where inhparent = 'raw.records'::regclass"
    ).fetchone()
    assert partitions and "raw.records" not in tables  # each row counted once, in its partition
    assert (
        sum(v["rows"] for k, v in tables.items() if k.startswith("raw.records_"))
        == (landing.db.execute("select count(*) from raw.records").fetchone()[0])
    )
    assert "private.keys" not in tables
    assert result.file_id is not None
    archive_key = SecretStore(landing.settings.secrets_dir).get_bytes("archive_key")
    with pytest.raises(BackupError, match=r"manifest\.json\.enc: chunk 0"):  # not its key
        check_set(made.path, archive_key)


def test_a_flipped_byte_or_a_truncation_is_named(landing: Landing, tmp_path: Path) -> None:
    made = create_set(landing.settings, tmp_path / "backups", progress=lambda _: None)
    key = _backup_key(landing)
    dump = made.path / "warehouse.dump.enc"
    original = dump.read_bytes()
    flipped = bytearray(original)
    flipped[len(original) // 2] ^= 0x01
    dump.write_bytes(bytes(flipped))
    chunk = len(original) // 2 // (1 << 20)  # the archive's 1 MiB chunks
    named = re.escape(f"{made.path.name}: warehouse.dump.enc: chunk {chunk} fails authentication")
    with pytest.raises(BackupError, match=named):
        check_set(made.path, key)
    dump.write_bytes(original[:-100])
    with pytest.raises(BackupError, match=r"warehouse\.dump\.enc: chunk \d+ fails"):
        check_set(made.path, key)
    # An authentic member of another set is not this set's.
    other = create_set(
        landing.settings, tmp_path / "other", datetime(2026, 1, 1, tzinfo=UTC), lambda _: None
    )
    dump.write_bytes((other.path / "warehouse.dump.enc").read_bytes())
    swapped = re.escape("warehouse.dump.enc is not the file the manifest names")
    with pytest.raises(BackupError, match=swapped):
        check_set(made.path, key)
    dump.write_bytes(original)
    assert check_set(made.path, key)
    # The manifest authenticates itself, chunk by chunk.
    manifest = made.path / "manifest.json.enc"
    data = bytearray(manifest.read_bytes())
    data[-1] ^= 0x01
    manifest.write_bytes(bytes(data))
    with pytest.raises(
        BackupError, match=re.escape("manifest.json.enc: chunk 0 fails authentication")
    ):
        check_set(made.path, key)


def test_a_killed_backup_leaves_no_set_that_looks_whole(landing: Landing, tmp_path: Path) -> None:
    destination = tmp_path / "backups"
    # A big quarantine slows the set down enough to kill it in the middle.
    landing.settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    (landing.settings.quarantine_dir / "big.bin").write_bytes(os.urandom(200 << 20))
    script = """
import sys
from pathlib import Path
from flows.backup.backup_set import create_set
from flows.runtime.settings import Settings
settings = Settings.model_validate_json(sys.stdin.read())
create_set(settings, Path(sys.argv[1]), progress=lambda m: print(m, flush=True))
"""
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(destination)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(landing.settings.model_dump_json())
    process.stdin.close()
    for line in process.stdout:
        if "quarantine" in line:  # 200 MB still to go
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert list_sets(destination) == []
    assert [p.name.endswith(".partial") for p in destination.iterdir()] == [True]

    whole = create_set(landing.settings, destination, datetime.now(UTC), lambda _: None)
    assert [s.path for s in list_sets(destination)] == [whole.path]


def test_the_command_line_writes_every_destination(landing: Landing, tmp_path: Path) -> None:
    first, second = tmp_path / "disk-a", tmp_path / "disk-b"
    env = {**landing.env(), "REMPART_BACKUP_DIRS": f"{first}:{second}"}
    done = run_rempart("backup", "create", env=env)
    assert "complete" in done.stderr + done.stdout
    [made] = list_sets(first)
    [copy] = list_sets(second)
    assert made.path.name == copy.path.name
    check_set(copy.path, _backup_key(landing))
    listed = run_rempart("backup", "list", env=env).stdout
    assert f"{first}: 1 set(s)" in listed and f"{second}: 1 set(s)" in listed
    assert made.path.name in listed
