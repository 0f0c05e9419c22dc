"""Prefect's environment: its ephemeral API for one run, or one API kept up by a long command."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from rich.console import Console

from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings


def prefect_environment(settings: Settings) -> None:
    """Prefect in its ephemeral mode, private to this state folder, silent to the outside.

    Without a `PREFECT_API_URL`, Prefect starts its API for the length of a run on 127.0.0.1
    (a random port, no UI) with its database under `<state>/prefect`; a generated password
    guards that API from other local users. With `PREFECT_API_URL` set, the team's server is
    used instead and none of this applies.
    """
    defaults = {
        "PREFECT_HOME": str(settings.state_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # The ephemeral server's own services log tracebacks when it is stopped mid-flush at the
        # end of a run; they are about its shutdown, not the run, and would alarm users.
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.pop("PREFECT_API_URL", None)  # set but empty (a compose default): not set
        password = SecretStore(settings.secrets_dir).get("prefect_api_password")
        os.environ["PREFECT_SERVER_API_AUTH_STRING"] = f"rempart:{password}"
        os.environ["PREFECT_API_AUTH_STRING"] = f"rempart:{password}"


@contextlib.contextmanager
def prefect_api(settings: Settings, console: Console) -> Iterator[None]:
    """One Prefect API for a long-lived command (127.0.0.1, a random port, password-guarded),
    instead of one started and stopped by every run; the team's PREFECT_API_URL, if set,
    is used as it is."""
    prefect_environment(settings)
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.server.api.server import (
        SubprocessASGIServer,  # Prefect's server: loaded by long-lived commands only
    )

    server = SubprocessASGIServer()
    server.start(timeout=180)
    os.environ["PREFECT_API_URL"] = server.api_url
    console.print(f"Prefect API up on {server.address} for as long as this command runs")
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
