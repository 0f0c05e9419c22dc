"""`rempart upload serve`: the upload page, on 127.0.0.1."""

from __future__ import annotations

import argparse

from flows.cli.common import needs_database
from flows.runtime.settings import Settings


@needs_database
def serve(settings: Settings, arguments: argparse.Namespace) -> int:
    import uvicorn

    from flows.uploads.service import build_app

    superset_url = settings.superset.internal_url or f"http://127.0.0.1:{settings.superset.port}"
    port = arguments.port or settings.upload.port
    print(f"upload page on http://{settings.listen_host}:{port}/upload (Ctrl-C stops)")
    uvicorn.run(
        build_app(settings, superset_url),
        host=settings.listen_host,
        port=port,
        log_level="warning",
        proxy_headers=False,
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    upload = commands.add_parser("upload", help="the upload page where people send files")
    actions = upload.add_subparsers(dest="upload_command", required=True, metavar="ACTION")
    serving = actions.add_parser(
        "serve",
        help="serve the upload page (REMPART_UPLOAD_PORT, on 127.0.0.1): Superset users with "
        "the role 'Uploader <department>' send files of their department's sources",
    )
    serving.add_argument("--port", type=int, help="port (default REMPART_UPLOAD_PORT, 8590)")
    serving.set_defaults(run=serve)
