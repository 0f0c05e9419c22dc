"""A dashboard or a chart printed to PDF by the reports' browser, watermark laid over it.

Superset builds a report's PDF from screenshots: images, whose figures no one can search,
copy or read aloud. Here the same headless Chromium (Selenium, as for screenshots, logged in
as the report's account: identity/machine_sessions.py) opens the page as Superset's screenshots do,
waits for its charts the same way, lays the watermark over it (watermark.OVERLAY_SCRIPT) and
prints it: tables and figures stay text, and the statement is on every page.
"""

from __future__ import annotations

import base64
import io
import logging
import time

from flask import current_app
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from superset.utils.urls import modify_url_query
from superset.utils.webdriver import (
    ChartStandaloneMode,
    DashboardStandaloneMode,
    WebDriverSelenium,
)

from rempart_superset.exports.watermark import OVERLAY_SCRIPT

logger = logging.getLogger(__name__)

DASHBOARD_ELEMENT = "standalone"  # as Superset's DashboardScreenshot waits for
CHART_ELEMENT = "chart-container"  # and its ChartScreenshot


class PagePrintFailed(RuntimeError):
    """The page did not render in time, or the browser could not print it."""


def print_page(url: str, user: object, watermark: str, *, dashboard: bool) -> bytes:
    """The page at `url`, as `user` sees it, printed (A3 landscape) with the watermark."""
    config = current_app.config
    window = config["WEBDRIVER_WINDOW"]["dashboard" if dashboard else "slice"]
    # The page without Superset's menus, as its own screenshots take it.
    standalone = DashboardStandaloneMode.REPORT if dashboard else ChartStandaloneMode.HIDE_NAV
    url = modify_url_query(url, standalone=standalone.value)
    proxy = WebDriverSelenium(config["WEBDRIVER_TYPE"], window)
    driver = proxy.auth(user)
    try:
        driver.set_window_size(*window)
        driver.get(url)
        element = DASHBOARD_ELEMENT if dashboard else CHART_ELEMENT
        try:
            WebDriverWait(driver, config["SCREENSHOT_LOCATE_WAIT"]).until(
                ec.presence_of_element_located((By.CLASS_NAME, element))
            )
            WebDriverWait(driver, config["SCREENSHOT_LOAD_WAIT"]).until_not(
                ec.presence_of_all_elements_located((By.CLASS_NAME, "loading"))
            )
        except TimeoutException as error:
            raise PagePrintFailed(f"{url} did not finish rendering in time") from error
        time.sleep(config["SCREENSHOT_SELENIUM_ANIMATION_WAIT"])
        driver.execute_script(OVERLAY_SCRIPT, watermark)
        options = PrintOptions()
        # A3 landscape: as wide as the 1600-pixel window the dashboard was laid out in, so
        # nothing is cut at the right edge; still a paper size every printer knows.
        options.page_width, options.page_height = 42.0, 29.7
        options.margin_top = options.margin_bottom = 0.5
        options.margin_left = options.margin_right = 0.5
        options.background = True
        options.shrink_to_fit = True
        return base64.b64decode(driver.print_page(options))
    finally:
        WebDriverSelenium.destroy(driver, config["SCREENSHOT_SELENIUM_RETRIES"])


def merge_pdfs(documents: list[bytes]) -> bytes:
    """One PDF of several (a dashboard report with tabs prints one per tab)."""
    if len(documents) == 1:
        return documents[0]
    from pypdf import PdfWriter

    writer = PdfWriter()
    for document in documents:
        writer.append(io.BytesIO(document))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
