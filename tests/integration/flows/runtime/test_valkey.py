"""The embedded Valkey server: `rempart redis start|stop|status` run it on 127.0.0.1 only,
behind the password of the secrets store, which appears on no command line and in no file
but the store; `REMPART_REDIS_URL` names an external server instead, and status tells the
truth about either."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import valkey

from flows.runtime.secrets import SecretStore
from tests.conftest import free_port, run_rempart


@pytest.fixture
def redis_env(tmp_path: Path) -> dict[str, str]:
    env = {"REMPART_STATE_DIR": str(tmp_path / "state"), "REMPART_REDIS_PORT": str(free_port())}
    yield env
    run_rempart("redis", "stop", env=env, check=False)


def _redis(env: dict[str, str], args: tuple[str, ...], ok: bool = True) -> str:
    done = run_rempart("redis", *args, env=env, check=False)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_embedded_server_listens_on_loopback_behind_its_password(
    redis_env: dict[str, str], tmp_path: Path
) -> None:
    port = int(redis_env["REMPART_REDIS_PORT"])
    assert "stopped" in _redis(redis_env, ("status",), ok=False)
    assert "started: running (embedded Valkey 8." in _redis(redis_env, ("start",))
    assert "already running" in _redis(redis_env, ("start",))
    said = _redis(redis_env, ("status",))
    assert f"127.0.0.1:{port}" in said, said

    password = SecretStore(tmp_path / "state" / "secrets").get("redis_password")
    with pytest.raises(valkey.AuthenticationError):
        valkey.Valkey(host="127.0.0.1", port=port).ping()
    with pytest.raises(valkey.AuthenticationError):
        valkey.Valkey(host="127.0.0.1", port=port, password="not-the-password").ping()
    client = valkey.Valkey(host="127.0.0.1", port=port, password=password)
    assert client.ping()
    assert client.config_get("save") == {"save": ""}  # nothing of it reaches the disk

    [server] = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "valkey-server" and f"127.0.0.1:{port}" in " ".join(p.info["cmdline"])
    ]
    listening = {c.laddr for c in server.net_connections("inet") if c.status == "LISTEN"}
    assert listening == {("127.0.0.1", port)}
    assert password not in " ".join(server.cmdline())
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file() and "secrets" not in path.parts:
            assert password.encode() not in path.read_bytes(), path

    assert "stopped (was pid" in _redis(redis_env, ("stop",))
    assert "stopped" in _redis(redis_env, ("status",), ok=False)
    assert not server.is_running()


def test_an_external_server_is_reached_by_its_url_and_never_stopped(
    redis_env: dict[str, str], tmp_path: Path
) -> None:
    _redis(redis_env, ("start",))
    password = SecretStore(tmp_path / "state" / "secrets").get("redis_password")
    port = redis_env["REMPART_REDIS_PORT"]
    other = {"REMPART_STATE_DIR": str(tmp_path / "other")}

    external = {**other, "REMPART_REDIS_URL": f"redis://:{password}@127.0.0.1:{port}/0"}
    said = _redis(external, ("status",))
    assert "reachable (external Valkey 8." in said and password not in said, said
    assert "not ours to stop" in _redis(external, ("stop",))
    assert "running" in _redis(redis_env, ("status",))

    wrong = {**other, "REMPART_REDIS_URL": f"redis://:wrong@127.0.0.1:{port}/0"}
    said = _redis(wrong, ("status",), ok=False)
    assert "refuses the password" in said and "wrong" not in said, said
    gone = {**other, "REMPART_REDIS_URL": f"rediss://:{password}@127.0.0.1:{free_port()}/0"}
    assert "cannot be reached" in _redis(gone, ("start",), ok=False)
