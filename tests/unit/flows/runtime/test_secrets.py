from __future__ import annotations

import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flows.runtime.secrets import KNOWN_SECRETS, SecretError, SecretStore
from flows.runtime.settings import PROJECT_DIR


def test_secret_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    first = store.get("audit_key")
    assert len(bytes.fromhex(first)) == 32
    assert store.get("audit_key") == first
    assert stat.S_IMODE((tmp_path / "secrets" / "audit_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


def test_concurrent_first_use_yields_one_value(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = set(pool.map(lambda _: store.get("archive_key"), range(32)))
    assert len(values) == 1
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["archive_key"]


def test_file_variable_overrides_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = tmp_path / "mounted-secret"
    given.write_text("s3cr3t-from-orchestrator\n")
    monkeypatch.setenv("REMPART_SUPERSET_ADMIN_PASSWORD_FILE", str(given))
    store = SecretStore(tmp_path / "secrets")
    assert store.get("superset_admin_password") == "s3cr3t-from-orchestrator"
    assert not (tmp_path / "secrets").exists()


def test_missing_file_variable_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMPART_AUDIT_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(SecretError, match=r"REMPART_AUDIT_KEY_FILE points to .*absent"):
        SecretStore(tmp_path / "secrets").get("audit_key")


def test_state_and_secrets_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", ".rempart/secrets/audit_key", ".env", ".rempart/pgdata/x"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == [".rempart/secrets/audit_key", ".env", ".rempart/pgdata/x"]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if path.startswith(".rempart/") or path == ".env"]
    assert not [path for path in tracked if Path(path).name in KNOWN_SECRETS]
