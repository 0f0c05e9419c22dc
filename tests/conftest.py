"""Shared fixtures: every test session gets its own throw-away PostgreSQL server."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from flows.runtime.database import connection_info, temporary_server
from flows.runtime.settings import PROJECT_DIR, Settings, load_settings

VENV_BIN = Path(sys.executable).parent


# Ports for the servers tests start, taken below the kernel's ephemeral range (32768 and up),
# which it hands to outgoing connections and to any bind to port 0. `make test` runs two pytest
# processes at once and gives each a range of its own (REMPART_TEST_PORTS), so neither can be
# handed a port the other has just chosen and not yet bound.
TEST_PORTS = os.environ.get("REMPART_TEST_PORTS", "20000-32767")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (for a server a test starts)."""
    low, high = (int(bound) for bound in TEST_PORTS.split("-"))
    for port in random.sample(range(low, high + 1), k=min(200, high - low + 1)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port of 127.0.0.1 in {TEST_PORTS} (REMPART_TEST_PORTS)")


def isolated_environment(state_dir: Path, work_dir: Path) -> dict[str, str]:
    """The environment of a Rempart installation of its own: the server and secrets under
    `state_dir`, the inbox, archive, quarantine and dbt's output under `work_dir`."""
    return {
        "REMPART_DATABASE_URL": "",
        "REMPART_STATE_DIR": str(state_dir),
        "REMPART_INBOX_DIR": str(work_dir / "inbox"),
        "REMPART_ARCHIVE_DIR": str(work_dir / "archive"),
        "REMPART_QUARANTINE_DIR": str(work_dir / "quarantine"),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


@pytest.fixture(scope="session", autouse=True)
def shared_prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect API for every `rempart` command of the session, reached as a team's server
    is (PREFECT_API_URL, a password): without it, each run starts and stops an ephemeral API
    of its own, about 11 s. The ephemeral mode, a laptop's default, keeps its test (the first
    run of tests/integration/flows/test_pipeline.py)."""
    home = tmp_path_factory.mktemp("prefect")
    port = free_port()
    auth = f"rempart:{secrets.token_urlsafe(24)}"
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    server = start_prefect_server(port, env, home / "server.log", auth)
    saved = {name: os.environ.get(name) for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    try:
        os.environ.update({"PREFECT_API_URL": url, "PREFECT_API_AUTH_STRING": auth})
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stop_prefect_server(server)


def start_prefect_server(
    port: int, env: dict[str, str], log: Path, auth: str | None = None
) -> subprocess.Popen[bytes]:
    """`prefect server start` on 127.0.0.1:`port`, once it answers its health check."""
    command = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    credentials = tuple(auth.split(":", 1)) if auth else None
    deadline = time.monotonic() + 180
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/api/health", auth=credentials, timeout=2)
            if health.status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_prefect_server(server)
            raise AssertionError("the Prefect server did not answer in 180 s")
        time.sleep(0.5)


def stop_prefect_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def rempart_settings() -> Iterator[Settings]:
    """Settings for a fresh embedded server in a temporary folder, set in the environment too.

    Subprocesses (`rempart ...`, dbt) inherit the environment, so they reach the same server.
    The user's `.rempart/` and any `REMPART_DATABASE_URL` are never used by tests.
    """
    saved = dict(os.environ)
    os.environ.pop("REMPART_DATABASE_URL", None)
    try:
        with temporary_server(load_settings()) as scratch:
            os.environ.update(isolated_environment(scratch.state_dir, scratch.state_dir / "data"))
            yield load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def db(rempart_settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session's database, as its administrator."""
    with connection_info(rempart_settings).connect(autocommit=True) as conn:
        yield conn


PROJECT_PARTS = (
    "flows",
    "loaders",
    "models",
    "macros",
    "seeds",
    "dbt_project",
    "superset",
    "dbt_project.yml",
    "pyproject.toml",
)


def copy_project(target: Path) -> Path:
    """A copy of the project's code, models and seeds, for a test that edits seeds as a person
    would without touching the repository; `run_project` runs its own command line."""
    target.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, target / part)
    # Superset's own environment is shared, not copied (the sync runs its scripts in it).
    (target / ".venv-superset").symlink_to(PROJECT_DIR / ".venv-superset")
    return target


def add_seed_lines(project: Path, seed: str, lines: list[str]) -> None:
    path = project / "seeds" / seed
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def run_project(
    project: Path, *args: str, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`rempart ARGS` from a copy of the project (`python -m flows.cli` imports the copy)."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "-m", "flows.cli", *args],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_rempart(
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `rempart` command line as a user would, capturing its output."""
    completed = subprocess.run(
        [str(VENV_BIN / "rempart"), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
        input=input,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"rempart {' '.join(args)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
        )
    return completed
