"""The upload page and API: people send a file of their department's sources to the inbox.

`rempart upload serve` listens on 127.0.0.1 (behind the same reverse proxy as Superset in
production, which routes `/upload` here). There is no password store of its own: a request
is the person's Superset session (its cookie) or Superset access token, which Superset itself
checks (`/api/v1/me/roles/`). Uploading needs the role `Uploader <department>`, and a file
whose name is that of a source (seeds/source_kinds.csv) of one of those departments.

A file is streamed to a hidden temporary name, its size checked as it arrives and its type
(loaders/formats.py) before it is renamed into the inbox, with a record of its uploader
(flows/warehouse/upload_records.py); then a run lands it. The page polls the upload's
status: the registry's verdict on the file and the outcome of the run that took it. Cookie
requests carry a CSRF token bound to the session, and a foreign Origin is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from flows.runtime.database import connection_info, role_connection
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.seeds.reader import read_seed
from flows.superset.server import UPLOADER_ROLE_PREFIX
from flows.warehouse import upload_records
from loaders.audit import append_event
from loaders.errors import RejectedFile
from loaders.formats import EXTENSIONS, FileType, detect_type, first_bytes_contradict
from loaders.schema import LOADER_ROLE

CSRF_HEADER = "X-Rempart-CSRF"
SESSION_COOKIE = "session"
HEAD_BYTES = 8  # enough to tell a workbook, a legacy workbook and other binaries apart


@dataclass(frozen=True)
class Uploader:
    username: str
    departments: frozenset[str]
    by_cookie: bool


@dataclass(frozen=True)
class Source:
    kind: str
    pattern: str
    department: str


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sources(settings: Settings) -> list[Source]:
    return [
        Source(row["source_kind"], row["file_name_pattern"], row.get("department_slug") or "")
        for row in read_seed(settings.project_dir, "source_kinds")
    ]


def source_of(settings: Settings, name: str) -> Source | None:
    matches = [s for s in sources(settings) if re.search(s.pattern, name, re.IGNORECASE)]
    return min(matches, key=lambda s: s.kind) if matches else None


def safe_name(name: str) -> str:
    """The file's own name, refused if it could be anything but a plain inbox file name."""
    if (
        not name
        or name != Path(name).name
        or name.startswith(".")
        or len(name) > 200
        or not re.fullmatch(r"[\w.\- ()\u00c0-\u017f]+", name)
    ):
        raise Refused(400, f"{name!r} is not an acceptable file name (letters, digits, . _ -)")
    if Path(name).suffix.lower() not in EXTENSIONS:
        raise Refused(
            415,
            f"{name}: not a file Rempart reads (it reads {', '.join(sorted(EXTENSIONS))})",
        )
    return name


class UploadService:
    def __init__(self, settings: Settings, superset_url: str) -> None:
        self.settings = settings
        self.superset_url = superset_url.rstrip("/")
        self.csrf_key = SecretStore(settings.secrets_dir).get("upload_csrf_key").encode()
        self.max_bytes = settings.upload_max_file_size_mb * 1024 * 1024
        self._run: subprocess.Popen[bytes] | None = None
        self._run_wanted = False
        self._lock = threading.Lock()

    # who is asking -------------------------------------------------------------------------

    async def identify(self, request: Request) -> Uploader | None:
        headers = {}
        authorization = request.headers.get("authorization", "")
        cookie = request.cookies.get(SESSION_COOKIE)
        if authorization.lower().startswith("bearer "):
            headers["Authorization"] = authorization
        elif cookie:
            headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        else:
            return None
        async with httpx.AsyncClient(timeout=15) as client:
            answer = await client.get(f"{self.superset_url}/api/v1/me/roles/", headers=headers)
        if answer.status_code != 200:
            return None
        result = answer.json().get("result") or {}
        username = result.get("username")
        if not username:
            return None
        departments = frozenset(
            role[len(UPLOADER_ROLE_PREFIX) :]
            for role in (result.get("roles") or {})
            if role.startswith(UPLOADER_ROLE_PREFIX)
        )
        return Uploader(str(username), departments, by_cookie="Authorization" not in headers)

    def csrf_token(self, request: Request) -> str:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.new(self.csrf_key, f"upload|{cookie}".encode(), hashlib.sha256).hexdigest()

    def check_origin_and_csrf(self, request: Request, uploader: Uploader) -> None:
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise Refused(403, "refused: the request comes from another site")
        if uploader.by_cookie and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, ""), self.csrf_token(request)
        ):
            raise Refused(403, "refused: the page's security token is missing or stale; reload")

    async def uploader(self, request: Request) -> Uploader:
        found = await self.identify(request)
        if found is None:
            raise Refused(401, "log in to Superset first: uploads need your Superset session")
        if not found.departments:
            raise Refused(
                403,
                f"{found.username} may not upload files: that needs the role "
                f"'{UPLOADER_ROLE_PREFIX}<department>'",
            )
        return found

    # the upload ----------------------------------------------------------------------------

    async def receive(self, request: Request, name: str, uploader: Uploader) -> dict[str, str]:
        name = safe_name(name)
        source = source_of(self.settings, name)
        allowed = sorted(
            f"{s.kind} ({s.pattern})"
            for s in sources(self.settings)
            if s.department in uploader.departments
        )
        if source is None:
            raise Refused(
                422,
                f"{name} is the file of no source: its name must match one of "
                f"{', '.join(allowed) or 'no source of your departments'}",
            )
        if source.department not in uploader.departments:
            raise Refused(
                403,
                f"{name} is a file of source {source.kind}, which belongs to "
                f"{source.department or 'no single department'}; you upload for "
                f"{', '.join(sorted(uploader.departments))}",
            )
        declared = int(request.headers.get("content-length") or 0)
        if declared > self.max_bytes:
            raise Refused(413, self._too_large(name))
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
                    if size > self.max_bytes:
                        raise Refused(413, self._too_large(name))
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                        if len(head) == HEAD_BYTES:
                            self._check_head(name, file_type, head)
                    digest.update(chunk)
                    handle.write(chunk)
            if size == 0:
                raise Refused(400, f"{name} is empty")
            await run_in_threadpool(self._check_type, temporary, name, size)
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

    def _too_large(self, name: str) -> str:
        return (
            f"{name} is larger than the {self.settings.upload_max_file_size_mb} MB the upload "
            "page accepts"
        )

    @staticmethod
    def _check_head(name: str, file_type: FileType, head: bytes) -> None:
        found = first_bytes_contradict(file_type, head)
        if found:
            raise Refused(415, f"{name}: the extension says {file_type} but the file is {found}")

    def _check_type(self, path: Path, name: str, size: int) -> None:
        try:
            with path.open("rb") as handle:
                detect_type(Path(name), handle, size, self.max_bytes)
        except RejectedFile as rejected:
            raise Refused(415, str(rejected)) from rejected

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

    async def page(request: Request) -> Response:
        found = await service.identify(request)
        if found is None:
            return HTMLResponse(
                _page(
                    "Log in first",
                    f'<p>Log in to <a href="{html.escape(superset_url)}/login/">'
                    "Superset</a>, then come back to this page.</p>",
                ),
                status_code=401,
            )
        if not found.departments:
            return HTMLResponse(
                _page(
                    "Not allowed",
                    f"<p>{html.escape(found.username)} may not upload files "
                    "(it needs the role "
                    f"<code>{UPLOADER_ROLE_PREFIX}&lt;department&gt;</code>).</p>",
                ),
                status_code=403,
            )
        names = [
            f"<li><code>{html.escape(s.kind)}</code>: <code>{html.escape(s.pattern)}</code></li>"
            for s in sources(settings)
            if s.department in found.departments
        ]
        body = (
            f"<p>Logged in as <b id='user'>{html.escape(found.username)}</b>. Files of these "
            f"sources, up to {settings.upload_max_file_size_mb} MB:</p><ul>{''.join(names)}</ul>"
            "<form id='upload'><input type='file' id='file' name='file' required> "
            "<button type='submit'>Upload</button></form><p id='outcome' role='status'></p>"
            f"<script>const csrf = {service.csrf_token(request)!r};</script>{SCRIPT}"
        )
        return HTMLResponse(_page("Upload a file", body))

    async def upload(request: Request) -> Response:
        try:
            found = await service.uploader(request)
            service.check_origin_and_csrf(request, found)
            return JSONResponse(await service.receive(request, request.path_params["name"], found))
        except Refused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)

    async def status(request: Request) -> Response:
        try:
            found = await service.uploader(request)
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
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Rempart: {html.escape(title)}</title>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'self'; "
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">"
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


SCRIPT = """<script>
const outcome = document.getElementById('outcome');
function say(text) { outcome.textContent = text; }
async function follow(name, sha256) {
  for (;;) {
    const answer = await fetch(`/upload/status/${encodeURIComponent(name)}?sha256=${sha256}`);
    const body = await answer.json();
    if (!answer.ok) { say(body.error); return; }
    if (body.run) {
      say(`${body.message}; run (audit event ${body.run.audit_event}): ${body.run.outcome}` +
          (body.run.reason ? ` (${body.run.reason})` : ''));
      outcome.dataset.done = body.state;
      return;
    }
    say(body.message + '…');
    await new Promise(resolve => setTimeout(resolve, 2000));
  }
}
document.getElementById('upload').addEventListener('submit', async event => {
  event.preventDefault();
  const file = document.getElementById('file').files[0];
  say(`sending ${file.name}…`);
  const answer = await fetch(`/upload/files/${encodeURIComponent(file.name)}`, {
    method: 'PUT', body: file, headers: {'X-Rempart-CSRF': csrf},
  });
  const body = await answer.json();
  if (!answer.ok) { say(body.error); outcome.dataset.done = 'refused'; return; }
  say(body.message);
  follow(body.file, body.sha256);
});
</script>"""
