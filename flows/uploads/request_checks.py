"""What a request to the upload page must pass before its file may reach the inbox.

* Who is asking: the person's Superset session (its cookie) or Superset access token, which
  Superset itself checks (`/api/v1/me/roles/`); uploading needs the role
  `Uploader <department>`. There is no password store of the upload page's own.
* Where from: a foreign Origin is refused, and a cookie request carries a CSRF token bound to
  the session.
* What: a plain file name, that of a source (seeds/source_kinds.csv) of one of the uploader's
  departments; a size within `upload_max_file_size_mb`; a type (loaders/formats.py) that the
  file's first bytes, then its whole content, do not contradict.

A check that fails raises `Refused`, with the HTTP status and a message for the person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.requests import Request

from flows.names import SUPERSET_UPLOADER_ROLE_PREFIX
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.seeds.reader import read_seed
from loaders.errors import RejectedFile
from loaders.formats import EXTENSIONS, FileType, detect_type, first_bytes_contradict

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


def check_head(name: str, file_type: FileType, head: bytes) -> None:
    """The file's first bytes (`HEAD_BYTES`), refused if they say another type than its name."""
    found = first_bytes_contradict(file_type, head)
    if found:
        raise Refused(415, f"{name}: the extension says {file_type} but the file is {found}")


class RequestChecks:
    """The checks that need the installation: its Superset, its CSRF key, its size limit."""

    def __init__(self, settings: Settings, superset_url: str) -> None:
        self.settings = settings
        self.superset_url = superset_url.rstrip("/")
        self.csrf_key = SecretStore(settings.secrets_dir).get("upload_csrf_key").encode()
        self.max_bytes = settings.upload.max_file_size_mb * 1024 * 1024

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
            role[len(SUPERSET_UPLOADER_ROLE_PREFIX) :]
            for role in (result.get("roles") or {})
            if role.startswith(SUPERSET_UPLOADER_ROLE_PREFIX)
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
                f"'{SUPERSET_UPLOADER_ROLE_PREFIX}<department>'",
            )
        return found

    # what is sent --------------------------------------------------------------------------

    def source_for(self, name: str, uploader: Uploader) -> Source:
        """The source whose file this is, refused unless it is one of the uploader's
        departments'."""
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
        return source

    def check_size(self, name: str, size: int) -> None:
        """Refused past the size limit: the size declared, then the bytes as they arrive."""
        if size > self.max_bytes:
            raise Refused(
                413,
                f"{name} is larger than the {self.settings.upload.max_file_size_mb} MB the "
                "upload page accepts",
            )

    def check_type(self, path: Path, name: str, size: int) -> None:
        """The whole file received, read as the loader would tell its type."""
        try:
            with path.open("rb") as handle:
                detect_type(Path(name), handle, size, self.max_bytes)
        except RejectedFile as rejected:
            raise Refused(415, str(rejected)) from rejected
