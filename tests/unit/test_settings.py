from __future__ import annotations

from pathlib import Path

import pytest

from flows.runtime.settings import PROJECT_DIR, Settings


def test_defaults_live_in_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATE_DIR", "INBOX_DIR", "DATABASE_URL", "MAX_FILE_SIZE_MB"):
        monkeypatch.delenv(f"REMPART_{name}", raising=False)
    settings = Settings(_env_file=None)
    assert settings.state_dir == PROJECT_DIR / ".rempart"
    assert settings.inbox_dir == PROJECT_DIR / "data" / "inbox"
    assert settings.secrets_dir == PROJECT_DIR / ".rempart" / "secrets"
    assert settings.uses_embedded_database


def test_environment_and_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REMPART_MAX_FILE_SIZE_MB=7\nREMPART_USER=alice\n")
    monkeypatch.setenv("REMPART_USER", "bob")  # the environment wins over .env
    monkeypatch.setenv("REMPART_DATABASE_URL", "postgresql://u@db.example/kpi")
    settings = Settings(_env_file=env_file)
    assert settings.max_file_size_mb == 7
    assert settings.user == "bob"
    assert not settings.uses_embedded_database


def test_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMPART_MAX_FILE_SIZE_MB", "-1")
    with pytest.raises(ValueError, match="max_file_size_mb"):
        Settings(_env_file=None)


def test_the_second_factor_is_required_unless_the_identity_provider_owns_it() -> None:
    assert Settings(_env_file=None).mfa_policy == "required"
    assert Settings(_env_file=None, auth="ldap").mfa_policy == "required"
    assert Settings(_env_file=None, auth="oidc").mfa_policy == "off"
    assert Settings(_env_file=None, auth="oidc", mfa="required").mfa_policy == "required"
    with pytest.raises(ValueError, match="mfa"):
        Settings(_env_file=None, mfa="sometimes")
