"""A Rempart installation of a benchmark's own, so the user's `.rempart/` is never touched: a
work folder, a throw-away embedded PostgreSQL server, the environment of the `rempart` commands
run against it and, when asked, Superset and Redis on free ports of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import sales
from benchmarks.harness.report import progress

if TYPE_CHECKING:
    from flows.runtime.settings import Settings
    from flows.superset.rest_client import SupersetClient

VENV_BIN = Path(sys.executable).parent
COMMAND_TIMEOUT = 7200  # seconds a `rempart` command may take


@contextlib.contextmanager
def work_folder(prefix: str, *, keep: bool = False, parent: str | None = None) -> Iterator[Path]:
    """A new folder for the run's files (in `parent`, else the temporary folder), removed
    afterwards unless `keep`."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    finally:
        if keep:
            progress(f"work folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Installation:
    settings: Settings  # the throw-away server, its inbox, archive and quarantine in `workdir`
    workdir: Path
    env: dict[str, str]  # for `rempart` and the tools: the same server, the same folders

    @property
    def inbox(self) -> Path:
        return self.workdir / "inbox"

    def command(self, *args: str) -> list[str]:
        return [str(VENV_BIN / "rempart"), *args]

    def rempart(
        self, *args: str, log: Path | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, float]:
        """Run `rempart args` (its output added to `log`, else `rempart.log` in the work
        folder; `env` added to the environment): its exit status and wall-clock seconds."""
        started = time.perf_counter()
        with (log or self.workdir / "rempart.log").open("a") as output:
            completed = subprocess.run(
                self.command(*args),
                env={**self.env, **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=COMMAND_TIMEOUT,
            )
        return completed.returncode, time.perf_counter() - started


@contextlib.contextmanager
def installation(
    workdir: Path,
    *,
    superset: bool = False,
    env: Mapping[str, str] | None = None,
    **settings: object,
) -> Iterator[Installation]:
    """A fresh server whose inbox, archive, quarantine and dbt output are in `workdir`;
    `settings` are overrides, `env` more of the commands' environment. `superset`: Superset
    and Redis on free ports, stopped at the end. `REMPART_DATABASE_URL` is dropped from this
    process's environment, so nothing here reaches the user's database."""
    from flows.runtime.database import temporary_server
    from flows.runtime.settings import load_settings
    from tests.conftest import isolated_environment

    os.environ.pop("REMPART_DATABASE_URL", None)
    updates: dict[str, object] = {
        "inbox_dir": workdir / "inbox",
        "archive_dir": workdir / "archive",
        "quarantine_dir": workdir / "quarantine",
        **settings,
    }
    with temporary_server(load_settings()) as scratch, contextlib.ExitStack() as cleanup:
        environment = {
            **os.environ,
            **isolated_environment(scratch.state_dir, workdir),
            **(env or {}),
        }
        if superset:
            port, redis_port = free_port(), free_port()
            environment["REMPART_SUPERSET_PORT"] = str(port)
            environment["REMPART_REDIS_PORT"] = str(redis_port)
            updates["superset"] = scratch.superset.model_copy(update={"port": port})
            updates["redis"] = scratch.redis.model_copy(update={"port": redis_port})
        made = Installation(scratch.model_copy(update=updates), workdir, environment)
        made.inbox.mkdir(parents=True, exist_ok=True)
        if superset:
            cleanup.callback(made.rempart, "redis", "stop")
            cleanup.callback(made.rempart, "superset", "stop")
        yield made


def set_up_with_sales(made: Installation, plan: sales.DataPlan) -> Path | None:
    """Set-up, untimed: the plan's big sales export lands through `rempart run`, which builds,
    publishes, starts Superset and syncs it. The small export (not landed), else None."""
    big, small = sales.generate(made.workdir, plan)
    shutil.move(big, made.inbox / big.name)
    progress("set-up: rempart run (land, build, publish, start Superset, sync)...")
    log = made.workdir / "setup.log"
    code, seconds = made.rempart("run", log=log)
    if code != 0:
        progress(f"FAILED: the set-up run exited {code}: see {log}")
        return None
    progress(f"  {seconds:.1f} s")
    return small


def log_in(settings: Settings, account: str) -> SupersetClient:
    """A demo account logged in to the installation's Superset (password and second factor
    from its secret store)."""
    from flows.runtime.secrets import SecretStore
    from flows.superset.accounts import current_demo_code, password_secret
    from flows.superset.rest_client import SupersetClient
    from flows.superset.server import SupersetServer

    return SupersetClient.log_in(
        SupersetServer(settings).url,
        account,
        SecretStore(settings.secrets_dir).get(password_secret(account)),
        otp=current_demo_code(settings, account),
    )


# -- the database, as its administrator ----------------------------------------------------


def checkpoint(settings: Settings) -> None:
    """A CHECKPOINT, so that the next step does not pay for the previous one's dirty buffers."""
    from flows.runtime.database import connection_info

    with connection_info(settings).connect(autocommit=True) as conn:
        conn.execute("checkpoint")


def server_description(settings: Settings, names: tuple[str, ...]) -> str:
    """`PostgreSQL name=value, ...`: the server settings a benchmark's figures depend on."""
    from flows.runtime.database import connection_info

    facts: list[str] = []
    with connection_info(settings).connect(autocommit=True) as conn:
        for name in names:
            row = conn.execute(f"show {name}").fetchone()
            facts.append(f"{name}={row[0] if row else '?'}")
    return "PostgreSQL " + ", ".join(facts)
