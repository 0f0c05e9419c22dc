from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.runtime.settings import PROJECT_DIR, DirectorySettings, Settings, variable_name


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
    assert Settings(_env_file=None).directory.mfa_policy == "required"
    assert DirectorySettings(_env_file=None, auth="ldap").mfa_policy == "required"
    assert DirectorySettings(_env_file=None, auth="oidc").mfa_policy == "off"
    assert DirectorySettings(_env_file=None, auth="oidc", mfa="required").mfa_policy == "required"
    with pytest.raises(ValueError, match="mfa"):
        DirectorySettings(_env_file=None, mfa="sometimes")


def test_each_component_reads_the_variables_it_always_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REMPART_SMTP_HOST=mail.example.org\nREMPART_UPLOAD_PORT=8600\n")
    for name, value in {
        "REMPART_SUPERSET_PORT": "9000",
        "REMPART_WATERMARK": "SECRET {username}",
        "REMPART_AUTH": "ldap",
        "REMPART_LDAP_URL": "ldaps://directory.example.org",
        "REMPART_BACKUP_DIRS": str(tmp_path / "backups"),
        "REMPART_REDIS_PORT": "6400",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=env_file)
    assert settings.superset.port == 9000
    assert settings.superset.watermark == "SECRET {username}"
    assert settings.directory.auth == "ldap"
    assert settings.directory.ldap_url == "ldaps://directory.example.org"
    assert settings.mail.host == "mail.example.org"  # from the same .env file
    assert settings.upload.port == 8600
    assert settings.backup_destinations == [tmp_path / "backups"]
    assert settings.redis.port == 6400


def test_a_wrong_component_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMPART_SMTP_PORT", "0")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    error = raised.value
    assert variable_name(error.title, error.errors()[0]["loc"]) == "REMPART_SMTP_PORT"
