"""The embedded PostgreSQL server: real processes, real sockets, real crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from flows.runtime.database import EmbeddedServer
from flows.runtime.settings import Settings
from flows.warehouse.provision import prepare_database
from tests.conftest import run_rempart


def test_url_is_accepted_by_psycopg_and_psql(rempart_settings: Settings) -> None:
    url = run_rempart("db", "url").stdout.strip()
    assert "password" not in url and "passfile=" in url
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_database()").fetchone() == ("rempart",)
    psql = EmbeddedServer.binary("psql")
    out = subprocess.run(
        [str(psql), url, "-Atc", "select 40 + 2"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "42"


def test_status_and_second_start_are_truthful(rempart_settings: Settings) -> None:
    status = run_rempart("db", "status")
    assert status.stdout.startswith("embedded server: running (pid ")
    # Whether the data folder's device is encrypted: this machine's answer, named.
    at_rest = [line for line in status.stdout.splitlines() if line.startswith("at rest: ")]
    assert len(at_rest) == 2 and str(rempart_settings.state_dir / "pgdata") in at_rest[0]
    assert any(word in at_rest[0] for word in ("WARNING", "cannot tell", "an encrypted device"))
    again = run_rempart("db", "start")
    assert "already running" in again.stdout


def test_server_listens_on_no_tcp_port(db: psycopg.Connection) -> None:
    assert db.execute("show listen_addresses").fetchone() == ("",)
    pid = db.execute("select pg_backend_pid()").fetchone()[0]
    postmaster = psutil.Process(pid).parent()
    assert postmaster is not None
    sockets = [c for c in psutil.net_connections(kind="inet") if c.pid == postmaster.pid]
    assert sockets == []


def test_a_password_is_required(rempart_settings: Settings) -> None:
    server = EmbeddedServer(rempart_settings)
    no_passfile = f"postgresql://rempart_admin@/rempart?host={server.socket_dir}&passfile=/dev/null"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(no_passfile, connect_timeout=5)


@pytest.fixture
def own_server() -> Iterator[dict[str, str]]:
    """A second, private server for tests that kill or stop it."""
    state = Path(tempfile.mkdtemp(prefix="rempart-crash-"))
    env = {"REMPART_STATE_DIR": str(state)}
    try:
        yield env
    finally:
        run_rempart("db", "stop", env=env, check=False)
        subprocess.run(["rm", "-rf", str(state)], check=False)


def test_killed_server_is_recovered_with_a_clear_message(own_server: dict[str, str]) -> None:
    assert "started: running" in run_rempart("db", "start", env=own_server).stdout
    url = run_rempart("db", "url", env=own_server).stdout.strip()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table survivors (n int); insert into survivors values (1), (2)")

    pid_file = Path(own_server["REMPART_STATE_DIR"]) / "pgdata" / "postmaster.pid"
    postmaster = int(pid_file.read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)

    down = run_rempart("db", "status", env=own_server, check=False)
    assert down.returncode == 1
    assert "stopped uncleanly" in down.stdout

    recovered = run_rempart("db", "start", env=own_server)
    assert "recovering: the server had stopped uncleanly" in recovered.stdout
    assert "started: running" in recovered.stdout
    assert run_rempart("db", "status", env=own_server).returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from survivors").fetchone() == (2,)

    assert run_rempart("db", "stop", env=own_server).stdout.startswith("stopped")
    stopped = run_rempart("db", "status", env=own_server, check=False)
    assert (stopped.returncode, stopped.stdout.split(":")[1].strip()[:7]) == (1, "stopped")


def test_external_url_is_used_and_its_password_never_printed(
    rempart_settings: Settings, tmp_path: Path
) -> None:
    server = EmbeddedServer(rempart_settings)
    password = server.secrets.get("db_admin_password")
    external = f"postgresql://rempart_admin:{password}@/rempart?host={server.socket_dir}"
    env = {"REMPART_DATABASE_URL": external, "REMPART_STATE_DIR": str(tmp_path / "state")}
    prepare_database(rempart_settings)
    # The same database with another state folder: its keys and role passwords must come from
    # the original secrets store, as files (Docker-secrets style), or the database refuses.
    for name in (
        "audit_key",
        "pseudonymisation_key",
        "db_rempart_loader_password",
        "db_rempart_transformer_password",
    ):
        env[f"REMPART_{name.upper()}_FILE"] = str(rempart_settings.secrets_dir / name)

    status = run_rempart("db", "status", env=env)
    assert status.stdout.startswith("external server: reachable, PostgreSQL 18")
    url = run_rempart("db", "url", env=env).stdout.strip()
    exports = run_rempart("env", env=env).stdout
    for output in (url, exports, status.stdout):
        assert password not in output
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert (tmp_path / "state" / "secrets" / "pgpass").stat().st_mode & 0o077 == 0
