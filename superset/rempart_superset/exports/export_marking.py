"""Every file a person downloads from Superset says whose it is (watermark.py's statement).

An `after_request` hook of the web application, on the endpoints that hand out data as files:
chart data as CSV or Excel (the chart menu, `/api/v1/chart/data` and `/api/v1/chart/<id>/data/`),
SQL Lab's CSV export, and the dashboard downloads as PNG or PDF, which Rempart has Superset
take on the server (ENABLE_DASHBOARD_DOWNLOAD_WEBDRIVER_SCREENSHOT), so that the menu never
offers an image made in the browser, unmarked:

* CSV: the statement as the first line; Excel: as the first row of every sheet;
* PNG: drawn in (watermark.stamp_png); PDF: built again from the marked image, with the
  statement also as text (searchable, and checked on every page);
* the file name gets the username and the date and time;
* the request's audit event (audit/request_events.py) gets the format, the file name and the
  statement.

A file of one of these endpoints in a format it cannot mark (a ZIP of several queries) is
refused: fail closed.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from werkzeug.wrappers import Response

from rempart_superset.exports.screenshot_downloads import requester
from rempart_superset.exports.watermark import (
    check_pdf,
    pdf_from_png,
    stamp_csv,
    stamp_png,
    stamp_xlsx,
    watermark_text,
)
from rempart_superset.routes import EXPORTS, resolved_rule

FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "image/png": "png",
    "application/pdf": "pdf",
}
FILE_NAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?')
EXPORT_KEY = "rempart_export"


def _format_of(response: Response) -> str | None:
    mimetype = (response.mimetype or "").lower()
    if mimetype in FORMATS:
        return FORMATS[mimetype]
    disposition = response.headers.get("Content-Disposition", "")
    match = FILE_NAME.search(disposition)
    if match and "." in match.group(1):
        extension = match.group(1).rsplit(".", 1)[1].lower()
        return extension
    return None


def file_name(original: str | None, extension: str, username: str, when: datetime) -> str:
    stem = (original or "export").rsplit(".", 1)[0]
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("_") or "export"
    safe_user = re.sub(r"[^\w.-]+", "_", username)
    return f"{stem}_{safe_user}_{when:%Y%m%d_%H%M}.{extension}"


def _body(response: Response) -> bytes:
    """The whole body, a streamed one (Superset's large CSV exports) read to its end."""
    response.direct_passthrough = False
    return response.get_data()


def mark_export(response: Response) -> Response:
    if resolved_rule() not in EXPORTS or response.status_code != 200:
        return response
    disposition = response.headers.get("Content-Disposition", "")
    kind = _format_of(response)
    is_download = "attachment" in disposition.lower() or kind in ("png", "pdf")
    if not is_download or kind == "json" or (kind is None and "json" in response.mimetype):
        return response
    user = requester()
    if user is None:
        return response
    username = user.username
    when = datetime.now(UTC)
    text = watermark_text(current_app.config["REMPART_WATERMARK"], username, when)
    if kind == "csv":
        response.set_data(stamp_csv(_body(response), text))
    elif kind == "xlsx":
        response.set_data(stamp_xlsx(_body(response), text))
    elif kind == "png":
        response.set_data(stamp_png(_body(response), text))
    elif kind == "pdf":
        marked = pdf_from_png(stamp_png(_png_of_pdf(_body(response)), text), text)
        check_pdf(marked, text)
        response.set_data(marked)
    else:
        refused = Response(
            f"a {kind or 'file'} download cannot carry Rempart's watermark: refused\n",
            status=403,
            mimetype="text/plain",
        )
        return refused
    match = FILE_NAME.search(disposition)
    name = file_name(match.group(1) if match else None, kind, username, when)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers.pop("Content-Length", None)
    response.headers["Cache-Control"] = "no-store"
    g.setdefault(EXPORT_KEY, {}).update({"format": kind, "file_name": name, "watermark": text})
    return response


def _png_of_pdf(pdf: bytes) -> bytes:
    """The dashboard image Superset put in its PDF download (one page, one image)."""
    from PIL import Image
    from pypdf import PdfReader

    image = PdfReader(io.BytesIO(pdf)).pages[0].images[0].image
    out = io.BytesIO()
    Image.Image.save(image.convert("RGB"), out, format="PNG")
    return out.getvalue()


def install(app: Flask) -> None:
    app.after_request(mark_export)


def export_details() -> dict[str, Any] | None:
    """What mark_export recorded of this request's file, for its audit event."""
    return g.get(EXPORT_KEY)
