"""Superset behind the TLS reverse proxy of deploy/: Caddy (Debian's) with the very snippet
deploy/caddy/superset.caddy, a certificate of its own internal CA, and Superset restarted with
REMPART_SUPERSET_BEHIND_HTTPS=true. Through the proxy, pages carry HSTS, the session cookie is
Secure and HttpOnly, and a viewer logs in and reads their department's chart data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Deployment, chart_data, superset_restarted_with

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).parents[2] / "deploy"


@pytest.fixture
def proxy(deployment: Deployment, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Caddy on a free port of 127.0.0.1, in front of the session's Superset: (URL, its CA)."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("Caddy is missing: `bash tests/system_packages.sh` installs it")
    port = free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n"
        "\tadmin off\n"
        "\tskip_install_trust\n"
        f"\thttps_port {port}\n"
        f"\thttp_port {free_port()}\n"
        "}\n\n"
        f"https://127.0.0.1:{port} {{\n"
        "\ttls internal\n"
        f"\timport {DEPLOY / 'caddy' / 'superset.caddy'}\n"
        "}\n"
    )
    upstream = deployment.url.removeprefix("http://")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SUPERSET_UPSTREAM": upstream,
    }
    log = (tmp_path / "caddy.log").open("w")
    process = subprocess.Popen(
        [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    authority = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 60
        while not authority.exists() or not _listening(port):
            assert process.poll() is None, (tmp_path / "caddy.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "caddy.log").read_text()
            time.sleep(0.3)
        yield f"https://127.0.0.1:{port}", authority
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_through_caddy_cookies_are_secure_and_hsts_is_sent(
    deployment: Deployment, proxy: tuple[str, Path]
) -> None:
    url, authority = proxy
    behind_https = {"REMPART_SUPERSET_BEHIND_HTTPS": "true"}
    with (
        superset_restarted_with(deployment, behind_https, {}),
        httpx.Client(base_url=url, verify=str(authority), timeout=60) as browser,
    ):
        page = browser.get("/login/")
        assert page.status_code == 200, page.text[:500]
        assert page.url.scheme == "https"
        assert "max-age=31536000" in page.headers["strict-transport-security"]
        cookies = page.headers.get_list("set-cookie")
        session = [c for c in cookies if c.startswith("session=")]
        assert session, cookies
        assert all("Secure" in c and "HttpOnly" in c for c in session), session

        viewer = "viewer_" + deployment.departments[0]
        login = browser.post(
            "/api/v1/security/login",
            json={
                "username": viewer,
                "password": deployment.password(viewer),
                "provider": "db",
                "otp": deployment.code(viewer),
            },
        )
        assert login.status_code == 200, login.text
        browser.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        datasets = browser.get("/api/v1/dataset/", params={"q": "(page_size:100)"}).json()
        dataset_id = next(
            row["id"] for row in datasets["result"] if row["table_name"] == "fct_kpi_values"
        )
        answer = chart_data(_ProxiedClient(browser), dataset_id)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["result"][0]["data"]
        assert {row["department"] for row in rows} == {deployment.departments[0]}
    deployment.forget_logins()


class _ProxiedClient:
    """What chart_data needs of a client: its `http`."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
