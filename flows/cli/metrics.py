"""`rempart metrics [--port PORT] [--once]`: Prometheus metrics for operators."""

from __future__ import annotations

import argparse
import sys

from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings


@needs_database
def metrics(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.metrics import exposition, serve

    if arguments.once:
        sys.stdout.write(exposition(settings).decode())
        return 0
    token = " (bearer token: metrics_token of the secrets store)" if settings.metrics_token else ""
    try:
        serve(
            settings,
            arguments.port,
            lambda url: print(f"serving {url}{token}; Ctrl-C stops", flush=True),
        )
    except OSError as error:
        raise CommandError(
            f"cannot listen on {settings.listen_host}:{arguments.port}: {error}"
        ) from error
    except KeyboardInterrupt:
        return 0
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "metrics", help="serve Prometheus metrics on 127.0.0.1 (sources, runs, publications)"
    )
    parser.add_argument("--port", type=int, default=9808, help="the port (default 9808)")
    parser.add_argument("--once", action="store_true", help="print them once and exit")
    parser.set_defaults(run=metrics)
