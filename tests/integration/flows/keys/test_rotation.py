"""`rempart secrets rotate` on an installation of its own: each key replaced, what it sealed
re-sealed, every rotation audited, and the installation still working after all of them:
files land, the pipeline runs, the audit trail verifies across its key epochs, a backup made
before the rotations restores."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.runtime.secrets import SecretStore
from loaders.archive import opens_with
from loaders.schema import key_fingerprint
from tests.integration.conftest import Installation

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow


def _store(installation: Installation) -> SecretStore:
    return SecretStore(installation.settings.secrets_dir)


def _archived(installation: Installation) -> list[Path]:
    return sorted(installation.settings.archive_dir.rglob("*.enc"))


def test_every_key_rotates_and_the_installation_keeps_working(
    installation: Installation,
) -> None:
    store = _store(installation)
    before_rotations = installation.backup()

    # The audit key: a signed rotation event, then a new epoch; both verify.
    old_audit = store.get_bytes("audit_key")
    _, said = installation.rempart("secrets", "rotate", "audit_key")
    assert "audit_key rotated" in said, said
    assert installation.audit_actions()[-1] == "audit_key_rotated"
    installation.land("after_audit.csv", "kpi,value\nafter,1\n")
    assert "audit trail intact" in installation.rempart("audit", "verify")[1]
    retired = store.path(f"audit_key.retired-{key_fingerprint(old_audit)}")
    assert retired.is_file()
    hidden = retired.with_name("hidden-for-the-test")
    retired.rename(hidden)
    code, said = installation.rempart("audit", "verify", check=False)
    assert code == 4 and "its content does not match" in said  # the first epoch needs it
    hidden.rename(retired)

    # The archive key: every archived file re-sealed, a new backup made.
    old_archive = store.get_bytes("archive_key")
    _, said = installation.rempart("secrets", "rotate", "archive_key")
    assert "archived file(s) re-sealed" in said and "new backup" in said, said
    new_archive = store.get_bytes("archive_key")
    assert new_archive != old_archive and _archived(installation)
    for path in _archived(installation):
        assert opens_with(path, new_archive) and not opens_with(path, old_archive)

    # The backup key: every set re-sealed, and each still verifies.
    _, said = installation.rempart("secrets", "rotate", "backup_key")
    assert "2 set(s) re-sealed" in said, said
    assert "verified (" in installation.rempart("backup", "verify", before_rotations.name)[1]

    # Database passwords: new ones in the database and the pgpass files.
    old_passwords = [store.get(f"db_{name}_password") for name in ("rempart_loader", "admin")]
    _, said = installation.rempart("secrets", "rotate", "db-passwords")
    assert "rempart_loader" in said and "rempart_admin" in said, said
    new_passwords = [store.get(f"db_{name}_password") for name in ("rempart_loader", "admin")]
    assert all(old != new for old, new in zip(old_passwords, new_passwords, strict=True))
    assert not store.path("db_rempart_admin_password").exists()
    installation.land("after_passwords.csv", "kpi,value\nafter,2\n")
    [(status,)] = installation.query(
        "select status from raw.files where file_name = 'after_passwords.csv'"
    )
    assert status == "landed"

    rotated = installation.query(
        "select details ->> 'secret' from audit.events where action = 'key_rotated' order by 1"
    )
    assert [name for (name,) in rotated] == ["archive_key", "backup_key"]
    assert "password_rotated" in installation.audit_actions()

    # A set made before the rotations restores, its trail continued under today's audit key.
    _, said = installation.rempart("backup", "restore", before_rotations.name, "--replace")
    assert f"{before_rotations.name}: restored" in said, said
    assert installation.audit_actions()[-2:] == ["audit_key_rotated", "backup_restored"]
    assert "audit trail intact" in installation.rempart("audit", "verify")[1]
    installation.land("after_restore.csv", "kpi,value\nafter,3\n")

    # The pseudonymisation key only with a full rebuild, which then runs.
    code, said = installation.rempart("secrets", "rotate", "pseudonymisation_key", check=False)
    assert code == 1 and "--full-rebuild" in said
    installation.env["REMPART_SUPERSET_SYNC"] = "false"
    _, said = installation.rempart("secrets", "rotate", "pseudonymisation_key", "--full-rebuild")
    assert "every pseudonym rebuilt" in said and "new backup" in said, said
    code, said = installation.rempart("backup", "restore", before_rotations.name, check=False)
    assert code == 1 and "another pseudonymisation key" in said  # its pseudonyms are gone

    assert installation.query(
        "select details ->> 'secret' from audit.events where action = 'key_rotated' "
        "order by event_id desc limit 1"
    ) == [("pseudonymisation_key",)]
    assert "audit trail intact" in installation.rempart("audit", "verify")[1]
    assert not list(store.directory.glob("*.next"))
