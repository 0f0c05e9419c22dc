"""The secrets store exported under a passphrase and imported back, byte for byte; a wrong
passphrase, an altered file or a store holding other values gets a clear refusal and
nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.keys.transfer import (
    HEADER_BYTES,
    MAGIC,
    SALT_BYTES,
    SecretsExportError,
    export_secrets,
    import_secrets,
    read_export,
)
from flows.runtime.secrets import SecretStore
from tests.conftest import run_rempart

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    secrets = SecretStore(directory)
    for name in ("archive_key", "audit_key", "superset_admin_password", "superset_totp_admin"):
        secrets.get(name)
    return directory


def test_an_export_brings_every_secret_back(store: Path, tmp_path: Path) -> None:
    export = tmp_path / "secrets.export"
    assert export_secrets(store, export, PASSPHRASE) == 4
    assert export.stat().st_mode & 0o777 == 0o600
    raw = export.read_bytes()
    for path in store.iterdir():
        assert path.read_text().strip().encode() not in raw
    empty = tmp_path / "restored"
    assert import_secrets(export, empty, PASSPHRASE) == (4, 0)
    for path in store.iterdir():
        assert (empty / path.name).read_bytes() == path.read_bytes()
        assert (empty / path.name).stat().st_mode & 0o777 == 0o600
    assert import_secrets(export, empty, PASSPHRASE) == (0, 4)  # again: nothing to do


def test_wrong_passphrase_altered_or_weakened_files_are_refused(
    store: Path, tmp_path: Path
) -> None:
    export = tmp_path / "secrets.export"
    export_secrets(store, export, PASSPHRASE)
    with pytest.raises(SecretsExportError, match="wrong passphrase"):
        read_export(export, "another passphrase entirely")
    data = bytearray(export.read_bytes())
    data[HEADER_BYTES + 3] ^= 1
    altered = tmp_path / "altered"
    altered.write_bytes(bytes(data))
    with pytest.raises(SecretsExportError, match="altered"):
        read_export(altered, PASSPHRASE)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(export.read_bytes()[:-1])
    with pytest.raises(SecretsExportError, match="truncated"):
        read_export(truncated, PASSPHRASE)
    weakened = bytearray(export.read_bytes())
    weakened[len(MAGIC) + SALT_BYTES] = 10  # N = 2^10
    (tmp_path / "weakened").write_bytes(bytes(weakened))
    with pytest.raises(SecretsExportError, match="weaker"):
        read_export(tmp_path / "weakened", PASSPHRASE)
    (tmp_path / "other").write_bytes(b"not an export")
    with pytest.raises(SecretsExportError, match="not an export"):
        read_export(tmp_path / "other", PASSPHRASE)


def test_import_never_replaces_a_different_secret(store: Path, tmp_path: Path) -> None:
    export = tmp_path / "secrets.export"
    export_secrets(store, export, PASSPHRASE)
    other = tmp_path / "other-store"
    SecretStore(other).get("archive_key")  # another installation's key
    with pytest.raises(SecretsExportError, match="archive_key"):
        import_secrets(export, other, PASSPHRASE)
    assert sorted(p.name for p in other.iterdir()) == ["archive_key"]


def test_short_passphrases_and_existing_targets_are_refused(store: Path, tmp_path: Path) -> None:
    with pytest.raises(SecretsExportError, match="at least 12"):
        export_secrets(store, tmp_path / "x", "short")
    (tmp_path / "taken").write_text("keep me")
    with pytest.raises(SecretsExportError, match="exists"):
        export_secrets(store, tmp_path / "taken", PASSPHRASE)
    assert (tmp_path / "taken").read_text() == "keep me"


def test_the_command_line_round_trip(store: Path, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    export = tmp_path / "out" / "secrets.export"
    state = store.parent
    done = run_rempart(
        "secrets",
        "export",
        "--to",
        str(export),
        "--passphrase-file",
        str(passphrase),
        env={"REMPART_STATE_DIR": str(state)},
    )
    assert "4 secrets written" in done.stdout
    assert PASSPHRASE not in done.stdout + done.stderr
    fresh = tmp_path / "fresh"
    restored = run_rempart(
        "secrets",
        "import",
        "--from",
        str(export),
        "--passphrase-file",
        str(passphrase),
        env={"REMPART_STATE_DIR": str(fresh)},
    )
    assert "4 secrets imported" in restored.stdout
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    refused = run_rempart(
        "secrets",
        "import",
        "--from",
        str(export),
        "--passphrase-file",
        str(wrong),
        env={"REMPART_STATE_DIR": str(tmp_path / "third")},
        check=False,
    )
    assert refused.returncode != 0 and "wrong passphrase" in refused.stderr
    assert "Traceback" not in refused.stderr
