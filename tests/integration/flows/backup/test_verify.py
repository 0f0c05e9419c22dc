"""`rempart backup verify` restores a set into a throw-away server: a true set passes, a set
whose (authentic) manifest disagrees with its dump fails, and both are in the audit trail.
No key material is in the dump."""

from __future__ import annotations

import json
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from flows.backup.backup_set import (
    MANIFEST,
    create_set,
    list_sets,
    read_manifest,
    warehouse_state,
)
from flows.backup.verify import verify_set
from flows.runtime.database import EmbeddedServer
from flows.runtime.secrets import SecretStore
from loaders.archive import decrypt_stream, encrypt_stream
from tests.conftest import run_rempart
from tests.integration.conftest import Landing


def _actions(landing: Landing, name: str) -> list[str]:
    rows = landing.db.execute(
        "select action from audit.events where details ->> 'set' = %s order by event_id", (name,)
    ).fetchall()
    return [action for (action,) in rows]


def test_a_true_set_restores_and_verifies(landing: Landing, tmp_path: Path) -> None:
    landing.ingest(landing.drop("verified.csv", "kpi,value\nverified,7\n"))
    destination = tmp_path / "backups"
    env = {**landing.env(), "REMPART_BACKUP_DIRS": str(destination)}
    run_rempart("backup", "create", env=env)
    done = run_rempart("backup", "verify", env=env)
    assert "verified (" in done.stdout and "audit trail intact" in done.stdout, done.stdout
    [name] = [p.name for p in destination.iterdir()]
    assert _actions(landing, name) == ["backup_verified"]
    assert "verified 20" in run_rempart("backup", "list", env=env).stdout


def test_the_dump_holds_no_key_material(landing: Landing, tmp_path: Path) -> None:
    made = create_set(landing.settings, tmp_path / "backups", progress=lambda _: None)
    key = SecretStore(landing.settings.secrets_dir).get_bytes("backup_key")
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / "warehouse.dump"
        with (made.path / "warehouse.dump.enc").open("rb") as sealed, dump.open("wb") as plain:
            decrypt_stream(sealed, plain, key)
        data = subprocess.run(
            [
                str(EmbeddedServer.binary("pg_restore")),
                "--data-only",
                "--schema=private",
                "-f",
                "-",
                str(dump),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "COPY private.keys" not in data
    (pads,) = landing.db.execute("select count(*) from private.keys").fetchone()
    assert pads > 0  # the live database has them; the backup does not


def test_a_manifest_that_disagrees_with_the_dump_fails(landing: Landing, tmp_path: Path) -> None:
    made = create_set(landing.settings, tmp_path / "backups", progress=lambda _: None)
    key = SecretStore(landing.settings.secrets_dir).get_bytes("backup_key")
    manifest = read_manifest(made.path, key)
    manifest["tables"]["raw.files"]["rows"] += 1  # what a lost row would look like
    with tempfile.TemporaryFile() as plain:
        plain.write(json.dumps(manifest).encode())
        plain.seek(0)
        (made.path / MANIFEST).unlink()
        with (made.path / MANIFEST).open("wb") as sealed:
            encrypt_stream(plain, sealed, key)
    result = verify_set(landing.settings, made.path, progress=lambda _: None)
    assert not result.passed
    assert any(problem.startswith("raw.files: manifest") for problem in result.problems)
    assert _actions(landing, made.path.name) == ["backup_verification_failed"]


def test_rotation_never_deletes_the_last_verified_set(landing: Landing, tmp_path: Path) -> None:
    destination = tmp_path / "rotated"
    made = [
        create_set(
            landing.settings, destination, datetime(2026, 11, day, 2, tzinfo=UTC), lambda _: None
        )
        for day in (1, 2, 3)
    ]
    assert verify_set(landing.settings, made[0].path, progress=lambda _: None).passed
    env = {
        **landing.env(),
        "REMPART_BACKUP_DIRS": str(destination),
        "REMPART_BACKUP_KEEP_DAILY": "0",
        "REMPART_BACKUP_KEEP_WEEKLY": "0",
        "REMPART_BACKUP_KEEP_MONTHLY": "0",
    }
    assert (
        "1 set(s) would be removed" in run_rempart("backup", "rotate", "--dry-run", env=env).stdout
    )
    assert len(list_sets(destination)) == 3
    run_rempart("backup", "rotate", env=env)
    assert [s.path.name for s in list_sets(destination)] == [made[0].path.name, made[2].path.name]


def test_a_set_of_the_first_format_still_verifies(landing: Landing, tmp_path: Path) -> None:
    """Sets made before the manifest named its checksum method summed MD5s: a verification
    recomputes with that method, and it passes."""
    made = create_set(landing.settings, tmp_path / "backups", progress=lambda _: None)
    key = SecretStore(landing.settings.secrets_dir).get_bytes("backup_key")
    manifest = read_manifest(made.path, key)
    assert manifest.pop("checksum_method") == "hash-record-64"
    with landing.db.transaction():
        landing.db.execute("set transaction isolation level repeatable read")
        manifest["tables"] = warehouse_state(landing.db, "md5-60")["tables"]
    assert manifest["tables"]["raw.files"]["checksum"] != 0
    with tempfile.TemporaryFile() as plain:
        plain.write(json.dumps(manifest).encode())
        plain.seek(0)
        (made.path / MANIFEST).unlink()
        with (made.path / MANIFEST).open("wb") as sealed:
            encrypt_stream(plain, sealed, key)
    result = verify_set(landing.settings, made.path, progress=lambda _: None)
    assert result.passed, result.problems
