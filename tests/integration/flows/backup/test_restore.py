"""`rempart backup restore` on an installation of its own (its own server, secrets, archive):
a destroyed installation comes back equal to the set and works; a non-empty one is replaced
only with --replace, after a backup of it; a tampered, truncated or foreign set changes
nothing."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from flows.backup.backup_set import MANIFEST, list_sets, read_manifest
from flows.runtime.database import connection_info
from loaders.archive import encrypt_stream
from tests.integration.conftest import Installation


def _destroy(installation: Installation) -> None:
    """What losing the disk leaves: the secrets (exported, kept apart) and nothing else."""
    installation.rempart("db", "stop")
    shutil.rmtree(installation.settings.state_dir / "pgdata")
    shutil.rmtree(installation.settings.archive_dir)
    shutil.rmtree(installation.settings.quarantine_dir)


def test_a_destroyed_installation_comes_back_and_works(installation: Installation) -> None:
    before = installation.state()
    assert before["files"], "the archive and quarantine should hold files"
    trail = installation.audit_actions()
    made = installation.backup()
    _destroy(installation)

    _, said = installation.rempart("backup", "restore", made.name)
    assert f"{made.name}: restored" in said and "audit trail intact" in said, said
    assert installation.state() == before
    actions = installation.audit_actions()
    assert actions[: len(trail)] == trail and actions[-1] == "backup_restored"
    _, said = installation.rempart("audit", "verify")
    assert "audit trail intact" in said
    # Roles and passwords are provisioned again: the loader lands a new file.
    installation.land("after.csv", "kpi,value\nafter,3\n")
    with connection_info(installation.settings).connect() as conn:
        (status,) = conn.execute(
            "select status from raw.files where file_name = 'after.csv'"
        ).fetchone()
    assert status == "landed"


def test_a_non_empty_installation_is_replaced_only_when_asked(
    installation: Installation,
) -> None:
    made = installation.backup()
    before = installation.state()
    installation.land("later.csv", "kpi,value\nlater,9\n")
    code, said = installation.rempart("backup", "restore", made.name, check=False)
    assert code == 1 and "is not empty" in said and "--replace" in said, said
    assert installation.state() != before  # untouched: later.csv is still there

    _, said = installation.rempart("backup", "restore", made.name, "--replace")
    assert installation.state() == before
    safety = [s.path for d in installation.settings.backup_destinations for s in list_sets(d)]
    assert len(safety) == 2 and f"what it replaced is in {safety[-1].name}" in said
    # The safety set holds what was replaced, later.csv included.
    manifest = read_manifest(safety[-1], installation.backup_key)
    assert manifest["tables"]["raw.files"]["rows"] == before["tables"]["raw.files"]["rows"] + 1


def _no_trace_of_a_restore(installation: Installation, before: dict[str, object]) -> None:
    assert installation.state() == before
    with connection_info(installation.settings).connect() as conn:
        databases = [n for (n,) in conn.execute("select datname from pg_database").fetchall()]
    assert not any(name.endswith(("_restoring", "_replaced")) for name in databases)
    leftovers = [p.name for p in installation.work.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("member", "damage", "message"),
    [
        ("warehouse.dump.enc", "flip", r"warehouse\.dump\.enc: chunk \d+"),
        ("archive.tar.enc", "truncate", r"archive\.tar\.enc: .*(truncated|chunk)"),
    ],
)
def test_a_damaged_set_changes_nothing(
    installation: Installation, member: str, damage: str, message: str
) -> None:
    made = installation.backup()
    installation.land("later.csv", "kpi,value\nlater,9\n")
    before = installation.state()
    target = made / member
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        del data[len(data) - 100 :]
    target.write_bytes(bytes(data))
    code, said = installation.rempart("backup", "restore", made.name, "--replace", check=False)
    assert code == 1 and made.name in said and "nothing was changed" in said, said
    assert re.search(message, said), said
    _no_trace_of_a_restore(installation, before)
    assert len([s for d in installation.settings.backup_destinations for s in list_sets(d)]) == 1


def _reseal_manifest(made: Path, key: bytes, manifest: dict) -> None:
    with tempfile.TemporaryFile() as plain:
        plain.write(json.dumps(manifest).encode())
        plain.seek(0)
        (made / MANIFEST).unlink()
        with (made / MANIFEST).open("wb") as sealed:
            encrypt_stream(plain, sealed, key)


def test_a_set_of_a_newer_release_or_other_keys_is_refused(installation: Installation) -> None:
    made = installation.backup()
    before = installation.state()
    manifest = read_manifest(made, installation.backup_key)
    newer = {**manifest, "format": 99, "rempart_version": "9.0.0"}
    _reseal_manifest(made, installation.backup_key, newer)
    code, said = installation.rempart("backup", "restore", made.name, "--replace", check=False)
    assert code == 1 and "made by Rempart 9.0.0 in backup format 99" in said, said
    assert "restore it with Rempart 9.0.0 or later" in said

    fingerprints = {**manifest["key_fingerprints"], "pseudonymisation": "0" * 16}
    _reseal_manifest(made, installation.backup_key, {**manifest, "key_fingerprints": fingerprints})
    code, said = installation.rempart("backup", "restore", made.name, "--replace", check=False)
    assert code == 1 and "another pseudonymisation key" in said, said
    assert "rempart secrets import" in said
    _no_trace_of_a_restore(installation, before)
