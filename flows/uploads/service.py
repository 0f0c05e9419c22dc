"""The upload page and API: people send a file of their department's sources to the inbox.

`rempart upload serve` listens on 127.0.0.1 (behind the same reverse proxy as Superset in
production, which routes `/upload` here). A request is the person's Superset session or access
token, and passes the checks of `request_checks` (who, from where, what file) before anything
is written.

A file is streamed to a hidden temporary name, its size checked as it arrives and its type
before it is renamed into the inbox, with a record of its uploader
(flows/warehouse/upload_records.py); then a run lands it. The page polls the upload's
status: the registry's verdict on the file and the outcome of the run that took it. The
page's HTML, script and style are files of `flows/uploads/page/`, filled in with
`string.Template` (values HTML-escaped here); the page's Content-Security-Policy admits
inline script and style only, so they are inlined.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from string import Template

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from flows.names import SUPERSET_UPLOADER_ROLE_PREFIX
from flows.runtime.database import connection_info, role_connection
from flows.runtime.settings import Settings
from flows.uploads.request_checks import (
    HEAD_BYTES,
    Refused,
    RequestChecks,
    Source,
    Uploader,
    check_head,
    safe_name,
    sources,
)
from flows.warehouse import upload_records
from loaders.audit import append_event
from loaders.formats import EXTENSIONS
from loaders.schema import LOADER_ROLE


def _page_file(name: str) -> str:
    return files("flows.uploads").joinpath("page", name).read_text(encoding="utf-8")


LAYOUT = Template(_page_file("layout.html"))
STYLE = _page_file("upload.css").strip()
UPLOAD_FORM = Template(_page_file("upload.html"))
SCRIPT = _page_file("upload.js")
LOG_IN_FIRST = Template(_page_file("log_in_first.html"))
NOT_ALLOWED = Template(_page_file("not_allowed.html"))


class UploadService:
    def __init__(self, settings: Settings, superset_url: str) -> None:
        self.settings = settings
        self.checks = RequestChecks(settings, superset_url)
        self._run: subprocess.Popen[bytes] | None = None
        self._run_wanted = False
        self._lock = threading.Lock()

    # the upload ----------------------------------------------------------------------------

    async def receive(self, request: Request, name: str, uploader: Uploader) -> dict[str, str]:
        checks = self.checks
        name = safe_name(name)
        source = checks.source_for(name, uploader)
        checks.check_size(name, int(request.headers.get("content-length") or 0))
        inbox = self.settings.inbox_dir
        pending = upload_records.pending_dir(inbox)
        pending.mkdir(parents=True, exist_ok=True)
        target = inbox / name
        if target.exists():
            raise Refused(409, f"a file named {name} is already waiting in the inbox; try later")
        temporary = pending / f"{secrets.token_hex(8)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            file_type = EXTENSIONS[Path(name).suffix.lower()]
            head = b""
            with temporary.open("wb") as handle:
                async for chunk in request.stream():
                    size += len(chunk)
                    checks.check_size(name, size)
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                        if len(head) == HEAD_BYTES:
                            check_head(name, file_type, head)
                    digest.update(chunk)
                    handle.write(chunk)
            if size == 0:
                raise Refused(400, f"{name} is empty")
            await run_in_threadpool(checks.check_type, temporary, name, size)
            sha256 = digest.hexdigest()
            record = upload_records.UploadRecord(
                uploader.username, sha256, datetime.now(UTC).isoformat()
            )
            upload_records.write_record(inbox, name, record)
            if target.exists():
                raise Refused(409, f"a file named {name} arrived meanwhile; try later")
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        await run_in_threadpool(self._audit, uploader, name, sha256, size, source, request)
        self.start_run()
        return {
            "file": name,
            "sha256": sha256,
            "source_kind": source.kind,
            "message": f"{name} received ({size:,} bytes); a run is landing it",
        }

    def _audit(
        self,
        uploader: Uploader,
        name: str,
        sha256: str,
        size: int,
        source: Source,
        request: Request,
    ) -> None:
        loader = role_connection(self.settings, LOADER_ROLE)
        with loader.connect(autocommit=True) as conn, conn.transaction():
            append_event(
                conn,
                "uploaded",
                uploader.username,
                file_name=name,
                sha256=sha256,
                details={
                    "size_bytes": size,
                    "source_kind": source.kind,
                    "client": request.client.host if request.client else "",
                },
            )

    # the run that lands it -----------------------------------------------------------------

    def start_run(self) -> None:
        """One run at a time; an upload during a run asks for one more, started when it ends
        (a run takes every file waiting in the inbox)."""
        with self._lock:
            if self._run is not None and self._run.poll() is None:
                self._run_wanted = True
                return
            self._run_wanted = False
            self._run = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "run"],
                cwd=self.settings.project_dir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            threading.Thread(target=self._after_run, args=(self._run,), daemon=True).start()

    def _after_run(self, run: subprocess.Popen[bytes]) -> None:
        run.wait()
        with self._lock:
            wanted = self._run_wanted
        if wanted:
            self.start_run()

    def status(self, name: str, sha256: str) -> dict[str, object]:
        with connection_info(self.settings).connect() as conn:
            row = conn.execute(
                "select file_id, status, error, uploaded_by from raw.files "
                "where sha256 = %s and file_name = %s order by file_id desc limit 1",
                (sha256, name),
            ).fetchone()
            if row is None:
                return {"state": "waiting", "message": f"{name} waits for the run to land it"}
            file_id, state, error, uploaded_by = row
            run = conn.execute(
                "select event_id, details from audit.events where action = 'pipeline_run' "
                "and event_id > (select max(event_id) from audit.events where file_id = %s) "
                "order by event_id limit 1",
                (file_id,),
            ).fetchone()
        answer: dict[str, object] = {
            "state": state,
            "file_id": file_id,
            "uploaded_by": uploaded_by,
            "message": {
                "landed": f"{name} landed",
                "duplicate": f"{name} was already landed (same content)",
                "failed": f"{name} was rejected: {error}",
            }.get(state, state),
        }
        if run is None:
            answer["run"] = None
        else:
            event_id, details = run
            answer["run"] = {
                "audit_event": event_id,
                "outcome": details.get("outcome"),
                "published": details.get("publish"),
                "reason": details.get("reason"),
            }
        return answer


def build_app(settings: Settings, superset_url: str) -> Starlette:
    service = UploadService(settings, superset_url)
    checks = service.checks

    async def page(request: Request) -> Response:
        found = await checks.identify(request)
        if found is None:
            return HTMLResponse(
                _page(
                    "Log in first",
                    LOG_IN_FIRST.substitute(superset_url=html.escape(superset_url)),
                ),
                status_code=401,
            )
        if not found.departments:
            return HTMLResponse(
                _page(
                    "Not allowed",
                    NOT_ALLOWED.substitute(
                        username=html.escape(found.username),
                        uploader_role_prefix=SUPERSET_UPLOADER_ROLE_PREFIX,
                    ),
                ),
                status_code=403,
            )
        names = [
            f"<li><code>{html.escape(s.kind)}</code>: <code>{html.escape(s.pattern)}</code></li>"
            for s in sources(settings)
            if s.department in found.departments
        ]
        body = UPLOAD_FORM.substitute(
            username=html.escape(found.username),
            max_mb=settings.upload.max_file_size_mb,
            sources="".join(names),
            csrf=repr(checks.csrf_token(request)),
            script=SCRIPT,
        )
        return HTMLResponse(_page("Upload a file", body))

    async def upload(request: Request) -> Response:
        try:
            found = await checks.uploader(request)
            checks.check_origin_and_csrf(request, found)
            return JSONResponse(await service.receive(request, request.path_params["name"], found))
        except Refused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)

    async def status(request: Request) -> Response:
        try:
            found = await checks.uploader(request)
        except Refused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)
        name = request.path_params["name"]
        sha256 = request.query_params.get("sha256", "")
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return JSONResponse({"error": "sha256: 64 hexadecimal digits"}, status_code=400)
        answer = await run_in_threadpool(service.status, name, sha256)
        if answer.get("uploaded_by") not in (None, found.username):
            return JSONResponse({"error": "not your upload"}, status_code=403)
        return JSONResponse(answer)

    return Starlette(
        routes=[
            Route("/upload", page, methods=["GET"]),
            Route("/upload/files/{name}", upload, methods=["PUT"]),
            Route("/upload/status/{name}", status, methods=["GET"]),
        ]
    )


def _page(title: str, body: str) -> str:
    return LAYOUT.substitute(title=html.escape(title), style=STYLE, body=body)
