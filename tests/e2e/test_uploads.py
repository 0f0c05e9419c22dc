"""The upload page: a department's uploader sends a file in the browser and sees the run that
landed it; everyone else is refused with a clear message, and nothing reaches the inbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.runtime.settings import PROJECT_DIR
from tests.conftest import free_port
from tests.e2e.conftest import Deployment, log_in

SALES_HEADER = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité\n"


@pytest.fixture(scope="module")
def upload_url(deployment: Deployment) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **deployment.env, "REMPART_UPLOAD_MAX_FILE_SIZE_MB": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "upload", "serve", "--port", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/upload", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the upload page did not start"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _inbox(deployment: Deployment) -> list[str]:
    inbox = Path(deployment.env["REMPART_INBOX_DIR"])
    return sorted(p.name for p in inbox.rglob("*") if p.is_file()) if inbox.exists() else []


def _put(url: str, name: str, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.put(f"{url}/upload/files/{name}", content=body, headers=headers, timeout=60)


def test_refusals_are_clear_and_write_nothing(deployment: Deployment, upload_url: str) -> None:
    before = _inbox(deployment)
    row = "02/11/2026;Ventes;Boissons;Thé;chiffre_affaires;12,5;EUR\n"
    sales = (SALES_HEADER + row).encode()

    anonymous = _put(upload_url, "sales_fr_2026-11.csv", sales)
    assert anonymous.status_code == 401
    assert "log in to Superset first" in anonymous.json()["error"]
    assert httpx.get(f"{upload_url}/upload").status_code == 401

    analyst = deployment.client("analyst").access_token
    refused = _put(upload_url, "sales_fr_2026-11.csv", sales, analyst)
    assert refused.status_code == 403
    assert "analyst may not upload files" in refused.json()["error"]

    viewer = deployment.client("viewer_sales").access_token
    other = _put(upload_url, "support_tickets_2026-11.jsonl", b'{"ticket_id": "T1"}\n', viewer)
    assert other.status_code == 403
    assert "support_tickets, which belongs to support" in other.json()["error"]

    large = (SALES_HEADER + row * 30_000).encode()
    assert len(large) > 1024 * 1024
    too_large = _put(upload_url, "sales_fr_2026-12.csv", large, viewer)
    assert too_large.status_code == 413
    assert "larger than the 1 MB" in too_large.json()["error"]

    pretending = _put(upload_url, "sales_fr_2026-12.csv", b"PK\x03\x04 not a csv\x00", viewer)
    assert pretending.status_code == 415

    assert _inbox(deployment) == before


def test_an_uploader_uploads_in_the_browser_and_sees_the_run(
    deployment: Deployment, upload_url: str, browser: object, tmp_path: Path
) -> None:
    page = log_in(browser, deployment, "viewer_sales")
    try:
        page.goto(f"{upload_url}/upload")
        assert page.locator("#user").inner_text() == "viewer_sales"
        # the session cookie alone, without the page's token, is refused (CSRF)
        forged = page.request.put(f"{upload_url}/upload/files/sales_fr_2026-11.csv", data=b"x")
        assert forged.status == 403
        assert "security token" in forged.json()["error"]

        upload = tmp_path / "sales_fr_2026-11-upload.csv"
        upload.write_text(
            SALES_HEADER + "03/11/2026;Ventes;Boissons;Thé;chiffre_affaires;77,25;EUR\n",
            encoding="utf-8",
        )
        page.locator("#file").set_input_files(str(upload))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_selector("#outcome[data-done]", timeout=600_000)
        outcome = page.locator("#outcome").inner_text()
        assert "sales_fr_2026-11-upload.csv landed" in outcome, outcome
        assert ": success" in outcome, outcome
    finally:
        page.close()
    assert deployment.query(
        "select uploaded_by, status from raw.files where file_name = %s",
        "sales_fr_2026-11-upload.csv",
    ) == [("viewer_sales", "landed")]
    assert deployment.query(
        "select actor, details ->> 'source_kind' from audit.events "
        "where action = 'uploaded' and file_name = %s",
        "sales_fr_2026-11-upload.csv",
    ) == [("viewer_sales", "sales_fr")]
    assert deployment.query(
        "select actor from audit.events where action = 'landed' and file_name = %s",
        "sales_fr_2026-11-upload.csv",
    ) == [("viewer_sales",)]
    assert deployment.query(
        "select kpi_value::text from marts.fct_kpi_values where source_file_name = %s",
        "sales_fr_2026-11-upload.csv",
    ) == [("77.25",)]
