"""Every file a person takes out of Superset says whose it is: the dashboard's PDF and PNG
downloads from its menu, taken on the server and watermarked, and CSV exports, which carry
the statement as their first line. Read back as a person would: the PDF's text, the picture
through Tesseract (Debian's OCR), the CSV's first line."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from pypdf import PdfReader

from tests.e2e.conftest import Deployment, csv_export, log_in, open_dashboard

DOWNLOAD_TIMEOUT_MS = 180_000


def _statement(username: str) -> str:
    return f"CONFIDENTIEL \N{EN DASH} {username} \N{EN DASH} {datetime.now(UTC):%Y-%m-%d}"


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _download(page: object, item: str, folder: Path) -> Path:
    """Download the open dashboard through its menu: ... > Download > `item`."""
    entry = page.get_by_role("menuitem", name=item)
    for _attempt in range(3):  # the menu may still be closing from the previous download
        page.keyboard.press("Escape")
        page.mouse.move(0, 0)
        page.locator('[data-test="actions-trigger"]').click()
        page.get_by_role("menuitem", name="Download").hover()
        try:
            entry.wait_for(state="visible", timeout=10_000)
            break
        except Exception:
            continue
    with page.expect_download(timeout=DOWNLOAD_TIMEOUT_MS) as download:
        entry.dispatch_event("click")  # the submenu moves while it opens
    target = folder / download.value.suggested_filename
    download.value.save_as(target)
    return target


def _spellings(identifier: int) -> list[str]:
    """Other ways to write an id that Superset's routes take as a string and convert."""
    return [f"+{identifier}", f"%2B{identifier}", f"0{identifier}", f"%20{identifier}"]


def test_a_viewer_downloads_the_dashboard_as_pdf_and_png_and_both_carry_their_name(
    deployment: Deployment, browser: object, tmp_path: Path
) -> None:
    username = "viewer_sales"
    page = log_in(browser, deployment, username)
    taken: list[str] = []
    page.on(
        "response",
        lambda response: (
            taken.append(response.json()["cache_key"])
            if "cache_dashboard_screenshot" in response.url and response.status in (200, 202)
            else None
        ),
    )
    try:
        open_dashboard(page, deployment, "kpi-overview")
        # A chart's own "Download as image", drawn in the browser unmarked, is not offered.
        assert 'data-menu-id$="-download_as_image"' in page.content()
        pdf = _download(page, "Export to PDF", tmp_path)
        png = _download(page, "Download as Image", tmp_path)
    finally:
        page.close()
    today = f"{datetime.now(UTC):%Y%m%d}"
    for path in (pdf, png):
        assert username in path.name and today in path.name, path.name
    statement = _statement(username)
    pages = PdfReader(io.BytesIO(pdf.read_bytes())).pages
    assert pages
    for number, page_of_pdf in enumerate(pages, start=1):
        assert statement in " ".join((page_of_pdf.extract_text() or "").split()), number
    seen = subprocess.run(
        ["tesseract", str(png), "stdout"], capture_output=True, text=True, check=True
    ).stdout
    assert "CONFIDENTIEL" in seen.upper(), seen
    assert _letters(username) in _letters(seen), seen
    exported = deployment.query(
        "select details from audit.events where actor = %s and action like 'superset_%%' "
        "and details ? 'export' order by event_id desc limit 2",
        username,
    )
    assert {row[0]["export"]["format"] for row in exported} == {"pdf", "png"}
    assert all(row[0]["export"]["watermark"].startswith(statement) for row in exported)

    # The picture taken for this viewer is theirs alone, through the API too.
    assert taken, "the menu did not ask the server for the picture"
    sales, support = deployment.client(username), deployment.client("viewer_support")
    try:
        kpi_overview = sales.request("GET", "/api/v1/dashboard/kpi-overview")["result"]["id"]
        image = f"/api/v1/dashboard/{kpi_overview}/screenshot/{taken[-1]}/"
        assert sales.http.get(image).status_code == 200
        assert support.http.get(image).status_code == 404
        # However the id is written, the route is the same, and so is the guard.
        for spelling in _spellings(kpi_overview):
            other = f"/api/v1/dashboard/{spelling}/screenshot/{taken[-1]}/"
            assert support.http.get(other).status_code == 404, other
            answer = sales.http.get(other, params={"download_format": "png"})
            assert answer.status_code == 200, other
            assert username in answer.headers.get("content-disposition", ""), other
        # Thumbnails (the list's card view) and chart screenshots, taken as whoever asks
        # first, are not served, whatever the spelling.
        chart = sales.list_all("/api/v1/chart/")[0]["id"]
        shared = [
            f"/api/v1/dashboard/{dashboard}/thumbnail/x/"
            for dashboard in (str(kpi_overview), *_spellings(kpi_overview))
        ] + [
            f"/api/v1/chart/{spelling}/{picture}"
            for spelling in (str(chart), *_spellings(chart))
            for picture in ("thumbnail/x/", "screenshot/x/", "cache_screenshot/")
        ]
        for path in shared:
            answer = support.http.get(path)
            assert answer.status_code == 404, path
            assert "not served by Rempart" in answer.json()["message"], path
    finally:
        sales.close()
        support.close()


def test_an_analysts_csv_and_excel_exports_start_with_the_statement_and_name_them(
    deployment: Deployment,
) -> None:
    client = deployment.client("analyst")
    try:
        response = csv_export(client)
        workbook = csv_export(client, result_format="xlsx")
    finally:
        client.close()
    assert workbook.status_code == 200, workbook.text[:300]
    sheet = load_workbook(io.BytesIO(workbook.content)).worksheets[0]
    assert str(sheet["A1"].value).startswith(_statement("analyst"))
    assert sheet["A2"].value == "Department"  # the data follows, its header first
    assert "analyst" in workbook.headers["content-disposition"]
    assert response.status_code == 200, response.text[:300]
    first, header, *_ = response.content.decode("utf-8").splitlines()
    assert first.strip('"').startswith(_statement("analyst")), first
    assert "Department" in header  # the data follows, as Superset wrote it
    disposition = response.headers["content-disposition"]
    assert "analyst" in disposition and f"{datetime.now(UTC):%Y%m%d}" in disposition
    exported = [
        details["export"]
        for (details,) in deployment.query(
            "select details from audit.events where actor = 'analyst' and details ? 'export' "
            "order by event_id desc limit 2"
        )
    ]
    assert sorted(export["format"] for export in exported) == ["csv", "xlsx"]
    assert all(export["watermark"].startswith(_statement("analyst")) for export in exported)
