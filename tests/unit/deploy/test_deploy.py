"""What an operator runs in production (deploy/): the compose file passes Docker Compose's own
check (no engine runs here: `docker-compose config` validates without one), publishes nothing
beyond the host's loopback but the proxy's 443, keeps every password in secret files, runs
commands the `rempart` command line accepts; the Caddy configuration passes `caddy validate`;
the secrets script writes files nobody else can read."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from flows.cli import build_parser
from flows.runtime.settings import PROJECT_DIR

ROOT = PROJECT_DIR
DEPLOY = ROOT / "deploy"
REMPART_IMAGE = "rempart:latest"
EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "superset-web",
    "superset-worker",
    "superset-beat",
    "prefect-server",
    "prefect-deploy",
    "prefect-worker",
    "watch",
    "upload",
    "metrics",
    "proxy",
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `bash tests/system_packages.sh` installs it")
    return path


@pytest.fixture(scope="module")
def deployment_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ copied aside, its secrets made by the script as an operator would."""
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("secrets"))
    done = subprocess.run(
        ["bash", str(copy / "make-secrets.sh")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return copy


@pytest.fixture(scope="module")
def compose(deployment_copy: Path) -> dict:
    done = subprocess.run(
        [_tool("docker-compose"), "-f", str(deployment_copy / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(deployment_copy)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return yaml.safe_load(done.stdout)


def _port(port: str | dict) -> tuple[str, int, int]:
    """(host address, published, target) from the short or the long syntax."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")), int(port["published"]), int(port["target"])
    *address, published, target = str(port).removesuffix("/tcp").split(":")
    return (address[0] if address else ""), int(published), int(target)


def test_every_service_is_there(compose: dict) -> None:
    assert set(compose["services"]) == EXPECTED_SERVICES


def test_only_the_proxy_443_is_published_beyond_loopback(compose: dict) -> None:
    published = {
        (name, *_port(port))
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    }
    assert ("proxy", "", 443, 443) in published
    beyond_loopback = {entry for entry in published if entry[1] != "127.0.0.1"}
    assert beyond_loopback == {("proxy", "", 443, 443)}
    assert compose["networks"]["backend"]["internal"] is True
    for name, service in compose["services"].items():
        networks = set(service["networks"])
        assert networks == ({"backend", "edge"} if name == "proxy" else {"backend"}), name


def test_passwords_live_in_secret_files_only(compose: dict, deployment_copy: Path) -> None:
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in variable or variable.endswith("_FILE"), (name, variable)
            assert urlsplit(str(value)).password is None, (name, variable)
            assert variable != "REMPART_REDIS_URL", name
    secrets = deployment_copy / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert {Path(entry["file"]).name for entry in compose["secrets"].values()} == {
        path.name for path in secrets.iterdir()
    }
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/pgpass"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "deploy/secrets/ must be git-ignored"


def test_rempart_services_run_unprivileged_commands_the_cli_accepts(compose: dict) -> None:
    parser = build_parser()
    for name, service in compose["services"].items():
        if service.get("image") != REMPART_IMAGE:
            continue
        assert service["user"] == "10001", name
        if service.get("entrypoint"):
            continue  # prefect's own command line
        parser.parse_args(service["command"])  # exits (fails the test) if it does not parse
        environment = service["environment"]
        assert environment["REMPART_REDIS_URL_FILE"] == "/run/secrets/redis_url"
        assert environment["REMPART_SUPERSET_BEHIND_HTTPS"] == "true"


def test_the_caddy_configuration_is_valid() -> None:
    done = subprocess.run(
        [
            _tool("caddy"),
            "validate",
            "--config",
            str(DEPLOY / "caddy" / "Caddyfile"),
            "--adapter",
            "caddyfile",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(DEPLOY), "XDG_DATA_HOME": "/nonexistent"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid configuration" in done.stdout + done.stderr


def test_the_dockerfile_builds_with_the_makefile_and_drops_root() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "RUN make venv superset-venv" in dockerfile
    instructions = [
        line.split()[0] for line in dockerfile.splitlines() if line and line[0].isupper()
    ]
    assert instructions.index("USER") < instructions.index("ENTRYPOINT")
    assert yaml.safe_load((DEPLOY / "compose.yaml").read_text())["x-rempart"]["image"] == (
        REMPART_IMAGE
    )
