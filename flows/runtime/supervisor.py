"""A small process supervisor: it starts a set of long-running services, restarts one that
dies, and writes what it sees to a state file that `status` commands read.

`rempart superset start` runs it (`python -m flows.runtime.supervisor SPEC`) in a session of its own
for Superset's gunicorn, Celery worker and Celery beat. Each service's output goes to its own
log; a service that exits is started again after a delay that doubles while it keeps failing
(1 s, 2 s, ... 60 s) and falls back to 1 s once it has stayed up a minute. Children get
SIGTERM if the supervisor itself dies, so none outlives it. SIGTERM to the supervisor stops
every service (SIGTERM, then SIGKILL after a grace period) and then the supervisor.

The state file also lists the worker processes of each service (gunicorn's workers, Celery's
pool), so a worker that died and was replaced by its own master is reported too.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

POLL_SECONDS = 0.5
STABLE_SECONDS = 60
MAX_BACKOFF_SECONDS = 60
STOP_GRACE_SECONDS = 20
EVENTS_KEPT = 30
PR_SET_PDEATHSIG = 1


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = 1.0
    last_exit: str | None = None
    workers: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, whatever kills it."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.state_file = Path(spec["state_file"])
        self.env: dict[str, str] = spec["env"]
        self.cwd = spec["cwd"]
        self.services = [
            Service(entry["name"], entry["argv"], Path(entry["log"])) for entry in spec["services"]
        ]
        self.events: list[dict[str, Any]] = []
        self.stopping = False

    def _event(self, service: Service, what: str) -> None:
        self.events.append({"at": time.time(), "service": service.name, "what": what})
        del self.events[:-EVENTS_KEPT]
        with contextlib.suppress(OSError), service.log.open("a") as log:
            log.write(f"\n==> supervisor: {what}\n")

    def _start(self, service: Service) -> None:
        service.log.parent.mkdir(parents=True, exist_ok=True)
        with service.log.open("ab") as log:
            log.write(f"\n==> supervisor: starting {service.name}\n".encode())
            log.flush()
            service.process = subprocess.Popen(
                service.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # only a prctl: safe here
            )
        service.started_at = time.time()
        service.workers, service.gone = set(), set()

    def _workers(self, service: Service) -> set[int]:
        if service.process is None:
            return set()
        try:
            return {child.pid for child in psutil.Process(service.process.pid).children()}
        except psutil.Error:
            return set()

    def _check(self, service: Service, now: float) -> None:
        process = service.process
        if process is None:
            if now >= service.next_start:
                self._start(service)
                service.restarts += 1
                self._event(service, f"{service.name} started again (pid {service.pid})")
            return
        returncode = process.poll()
        if returncode is None:
            # A worker that ended while its master lives on was replaced by the master; one
            # that ended with its master is not news. So report on the next look.
            for pid in sorted(service.gone):
                self._event(service, f"{service.name} worker {pid} ended, replaced by its master")
            workers = self._workers(service)
            service.gone = service.workers - workers
            service.workers = workers
            if now - service.started_at > STABLE_SECONDS:
                service.backoff = 1.0
            return
        service.last_exit = describe_exit(returncode)
        self._event(
            service,
            f"{service.name} (pid {process.pid}) {service.last_exit}; "
            f"restarting in {service.backoff:.0f} s",
        )
        service.process = None
        service.next_start = now + service.backoff
        service.backoff = min(service.backoff * 2, MAX_BACKOFF_SECONDS)

    def _write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "services": {
                service.name: {
                    "pid": service.pid,
                    "started_at": service.started_at,
                    "restarts": service.restarts,
                    "last_exit": service.last_exit,
                    "workers": sorted(service.workers),
                    "log": str(service.log),
                }
                for service in self.services
            },
            "events": self.events,
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(self.state_file)

    def _terminate(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, self._terminate)
        for service in self.services:
            self._start(service)
        while not self.stopping:
            now = time.time()
            for service in self.services:
                self._check(service, now)
            self._write_state()
            time.sleep(POLL_SECONDS)
        self._stop_all()

    def _stop_all(self) -> None:
        running = [service.process for service in self.services if service.process]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=5)
        self.state_file.unlink(missing_ok=True)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    Supervisor(spec).run()


if __name__ == "__main__":
    main()
