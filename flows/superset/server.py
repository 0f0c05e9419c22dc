"""Superset's lifecycle: its metadata database, gunicorn and Celery on 127.0.0.1, stop.

Superset lives in its own environment (`.venv-superset`, see superset/requirements.in) and
is driven here through its command line and `superset/scripts/bootstrap_access.py`, never imported.
Its metadata (users, dashboards, logs) is a SQLite database under `<state>/superset/`.

Over 450 lines because it is one class, `SupersetServer`, whose steps (set-up, the processes
under the supervisor, status, start, stop, the administration scripts) share its paths and its
processes' state; its accounts (`accounts.py`) and the environment of its mail and directory
(`environment.py`) live beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import psutil

from flows.names import (
    SUPERSET_AUDIT_ROLE,
)
from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR, Settings
from flows.runtime.valkey import EmbeddedRedis, redis_url
from flows.runtime.valkey import status as redis_status
from flows.seeds.recipients import data_stewards_mail
from flows.superset.accounts import (
    SYNC_PERMISSIONS,
    SYNC_ROLE,
    report_accounts,
    superset_accounts,
    totp_secret,
)
from flows.superset.environment import (
    directory_environment,
    mail_environment,
    warehouse_environment,
)
from flows.superset.errors import SupersetError
from flows.warehouse.provision import superset_passfile

SUPERSET_VENV = PROJECT_DIR / ".venv-superset"
CONFIG_PATH = PROJECT_DIR / "superset" / "superset_config.py"
BOOTSTRAP_ACCESS = PROJECT_DIR / "superset" / "scripts" / "bootstrap_access.py"
ACCOUNT_ADMIN = PROJECT_DIR / "superset" / "scripts" / "account_admin.py"
SECRET_KEY_ROTATION = PROJECT_DIR / "superset" / "scripts" / "secret_key_rotation.py"
START_TIMEOUT_SECONDS = 240
# The driver of the reports' browser: Debian's, which starts Debian's chromium.
CHROMEDRIVER = "/usr/bin/chromedriver"
SERVICE_NAMES = {"web": "gunicorn", "worker": "Celery worker", "beat": "Celery beat"}
RECENT_EVENTS_SECONDS = 600  # `status` reports restarts this recent

WAREHOUSE_NAME = "Rempart warehouse"  # Superset's database entry of the warehouse


@dataclass
class SupersetStatus:
    running: bool
    detail: str
    pid: int | None = None
    healthy: bool = False  # answers, and every process of it runs


class SupersetServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "superset"
        self.pidfile = self.home / "supervisor.pid"
        self.spec_file = self.home / "supervisor.json"
        self.state_file = self.home / "supervisor-state.json"
        self.supervisor_log = self.home / "supervisor.log"
        self.log_file = self.home / "server.log"
        self.access_log = self.home / "access.log"
        self.redis_url_file = self.home / "redis_url"
        self.bootstrap_marker = self.home / "bootstrapped"
        self.url = f"http://127.0.0.1:{settings.superset.port}"

    @staticmethod
    def binary(name: str) -> Path:
        path = SUPERSET_VENV / "bin" / name
        if not path.exists():
            raise SupersetError(
                f"Superset's environment is missing ({path}): run `make superset-venv`"
            )
        return path

    def environment(self) -> dict[str, str]:
        """What the Superset process sees: paths and file names, never a secret's value."""
        store = SecretStore(self.settings.secrets_dir)
        store.get("superset_secret_key")  # created on first use
        redis_url_file = self._superset_redis_url_file()
        audit = connection_info(self.settings)
        audit_dsn = {
            "host": audit.host,
            "port": str(audit.port),
            "dbname": audit.dbname,
            "user": SUPERSET_AUDIT_ROLE,
            "passfile": str(superset_passfile(self.settings)),
            **{k: v for k, v in audit.options.items() if k.startswith("ssl")},
        }
        return {
            "PATH": f"{SUPERSET_VENV / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "FLASK_APP": "superset.app:create_app()",
            "SUPERSET_HOME": str(self.home),
            "SUPERSET_CONFIG_PATH": str(CONFIG_PATH),
            "SUPERSET_SECRET_KEY_FILE": str(store.path("superset_secret_key")),
            "REMPART_STATE_DIR": str(self.settings.state_dir),
            "REMPART_AUDIT_DSN": " ".join(f"{k}='{v}'" for k, v in audit_dsn.items()),
            **warehouse_environment(self.settings),
            "SUPERSET_BEHIND_HTTPS": "true" if self.settings.superset.behind_https else "false",
            "REMPART_LOCKOUT_ATTEMPTS": str(self.settings.superset.lockout_attempts),
            "REMPART_LOCKOUT_WINDOW_MINUTES": str(self.settings.superset.lockout_window_minutes),
            "REMPART_LOCKOUT_MINUTES": str(self.settings.superset.lockout_minutes),
            "REMPART_MFA": self.settings.directory.mfa_policy,
            **directory_environment(self.settings.directory, self.settings.project_dir, store),
            "REMPART_SESSION_IDLE_MINUTES": str(self.settings.superset.session_idle_minutes),
            "REMPART_REDIS_URL_FILE": str(redis_url_file),
            "REMPART_REPORT_ACCOUNTS": json.dumps(report_accounts(self.settings)),
            "REMPART_REPORT_ERRORS_TO": data_stewards_mail(self.settings.project_dir) or "",
            **mail_environment(self.settings.mail, store),
            "REMPART_WATERMARK": self.settings.superset.watermark,
            "REMPART_SUPERSET_URL": self.settings.superset.internal_url or self.url,
            "REMPART_SUPERSET_PUBLIC_URL": self.settings.superset.public_url
            or self.settings.superset.internal_url
            or self.url,
            "REMPART_CHROMEDRIVER": CHROMEDRIVER,
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
        }

    # -- status -------------------------------------------------------------------------

    def _pid(self) -> int | None:
        """The supervisor's pid, if it runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
            if "flows.runtime.supervisor" in " ".join(psutil.Process(pid).cmdline()):
                return pid
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def _healthy(self) -> bool:
        try:
            # Our own http:// URL, never user input.
            with urllib.request.urlopen(f"{self.url}/health", timeout=3) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _started_workers(self) -> int:
        """How many gunicorn workers the running Superset was started with."""
        try:
            spec = json.loads(self.spec_file.read_text(encoding="utf-8"))
            web = next(entry for entry in spec["services"] if entry["name"] == "web")
            return int(web["argv"][web["argv"].index("--workers") + 1])
        except (OSError, ValueError, KeyError, StopIteration):
            return self.settings.superset.workers

    def status(self) -> SupersetStatus:
        """Whether Superset runs, and the truth about each of its processes: gunicorn and its
        workers, the Celery worker and beat, what died and was restarted lately."""
        pid = self._pid()
        if pid is None:
            return SupersetStatus(False, "stopped")
        state = self._state()
        services = state.get("services", {})
        lines, complete = [], bool(services)
        for name, what in SERVICE_NAMES.items():
            service = services.get(name, {})
            alive = service.get("pid") is not None and psutil.pid_exists(service["pid"])
            if not alive:
                complete = False
                exit_ = service.get("last_exit") or "not started yet"
                lines.append(f"  {name}: {what} down ({exit_}); the supervisor restarts it")
                continue
            detail = f"  {name}: {what} pid {service['pid']}"
            workers = service.get("workers", [])
            if name == "web":
                expected = self._started_workers()
                detail += f", {len(workers)} of {expected} workers"
                complete = complete and len(workers) >= expected
            elif name == "worker":
                detail += f", {len(workers)} pool process(es)"
            if service.get("restarts"):
                detail += (
                    f", restarted {service['restarts']} time(s), last {service.get('last_exit')}"
                )
            lines.append(detail)
        recent = [
            event
            for event in state.get("events", [])
            if time.time() - event["at"] < RECENT_EVENTS_SECONDS
        ]
        lines += [
            f"  {time.strftime('%H:%M:%S', time.localtime(event['at']))} {event['what']}"
            for event in recent
        ]
        healthy = self._healthy()
        if healthy and complete:
            head = f"running (supervisor pid {pid}) on {self.url}"
        elif healthy:
            head = f"running but degraded (supervisor pid {pid}) on {self.url}"
        else:
            head = f"starting or unhealthy (supervisor pid {pid}); log: {self.log_file}"
        return SupersetStatus(True, "\n".join([head, *lines]), pid, healthy=healthy and complete)

    # -- set-up -------------------------------------------------------------------------

    def _run(self, args: list[str], what: str, stdin: str | None = None) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a", encoding="utf-8") as log:
            log.write(f"\n==> {what}\n")
            log.flush()
            result = subprocess.run(
                args,
                input=stdin,
                env=self.environment(),
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
                timeout=600,
            )
        if result.returncode != 0:
            raise SupersetError(f"{what} failed (exit {result.returncode}):\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _fingerprint(self) -> str:
        """Changes when Superset is upgraded or the configuration edited: then re-initialise."""
        version = subprocess.run(
            [
                str(self.binary("python")),
                "-c",
                "import importlib.metadata as m;print(m.version('apache-superset'))",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return f"{version} {CONFIG_PATH.stat().st_mtime_ns}"

    def bootstrap(self, progress: Callable[[str], None] = print) -> None:
        """Migrate the metadata, create default roles and permissions, the accounts. Idempotent."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        superset = str(self.binary("superset"))
        fingerprint = self._fingerprint()
        if not self.bootstrap_marker.exists() or self.bootstrap_marker.read_text() != fingerprint:
            progress("Superset: migrating its metadata database (first start: about a minute)")
            self._run([superset, "db", "upgrade"], "superset db upgrade")
            progress("Superset: creating default roles and permissions")
            self._run([superset, "init"], "superset init")
            self.bootstrap_marker.write_text(fingerprint)
        self._use_write_ahead_log()
        self.apply_accounts(superset_accounts(self.settings), {SYNC_ROLE: SYNC_PERMISSIONS})

    def _use_write_ahead_log(self) -> None:
        """Superset's metadata database in SQLite's WAL mode: every gunicorn worker and the
        Celery worker write to it (its action log, sessions), and readers then never wait
        for a writer. The mode is stored in the file; backups copy it with SQLite's online
        backup, which includes what is still in the log."""
        metadata = self.home / "superset.db"
        if metadata.exists():
            with contextlib.closing(sqlite3.connect(metadata)) as conn:
                conn.execute("pragma journal_mode=wal")

    def apply_accounts(
        self,
        users: list[dict[str, object]],
        role_permissions: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        """Create or update these accounts (superset/scripts/bootstrap_access.py describes them)."""
        self._run(
            [str(self.binary("python")), str(BOOTSTRAP_ACCESS)],
            "accounts and roles",
            stdin=json.dumps({"users": users, "role_permissions": role_permissions or {}}),
        )

    def run_admin_script(
        self,
        script: Path,
        arguments: list[str],
        what: str,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> str:
        """Run one of superset/'s administration scripts inside Superset's environment,
        audited as the operator's act; its standard output."""
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [str(self.binary("python")), str(script), *arguments, "--operator", self.settings.user],
            env={**self.environment(), **(env or {})},
            cwd=self.home,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise SupersetError(f"{what}: {detail[-1] if detail else 'failed'}")
        return result.stdout.strip()

    def _account_admin(self, action: str, username: str, *extra: str) -> str:
        """Run superset/scripts/account_admin.py (audited as the operator's act)."""
        return self.run_admin_script(
            ACCOUNT_ADMIN, [action, username, *extra], f"{action} {username}"
        )

    def reseal_secret_key(self, previous: Path, new: Path) -> dict[str, object]:
        """Re-seal, under the key in `new`, what Superset sealed under the key in `previous`
        (Superset must be stopped); returns what was re-sealed and whose recovery codes
        were invalidated."""
        output = self.run_admin_script(
            SECRET_KEY_ROTATION,
            ["--previous-key-file", str(previous)],
            "re-sealing under the new secret key",
            env={"SUPERSET_SECRET_KEY_FILE": str(new)},
        )
        return json.loads(output.splitlines()[-1])

    def unlock(self, username: str) -> str:
        """Lift the lockout of one account."""
        return self._account_admin("unlock", username)

    def reset_second_factor(self, username: str) -> str:
        """Forget an account's second factor (and its demo secret, if it had one) and end its
        sessions: it enrols a new device at its next login."""
        store = SecretStore(self.settings.secrets_dir)
        return self._account_admin(
            "mfa-reset", username, "--demo-secret-file", str(store.path(totp_secret(username)))
        )

    # -- start / stop -------------------------------------------------------------------

    def _port_free(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.settings.superset.port))
            except OSError:
                return False
        return True

    def _prepare_redis(self, progress: Callable[[str], None]) -> None:
        """Superset's processes share their state through Redis: the embedded server is
        started if need be; an external one must answer. Its URL, password included, goes
        to a file only Superset's account reads, never into an environment variable."""
        if not self.settings.redis.url:
            embedded = EmbeddedRedis(self.settings)
            if not embedded.status().running:
                progress(f"Redis: {embedded.start()}")
        else:
            found = redis_status(self.settings)
            if not found.running:
                raise SupersetError(f"Superset needs Redis: {found.detail}")

    def _superset_redis_url_file(self) -> Path:
        """The file Superset's configuration reads Redis's URL from, password included (never
        an environment variable): the operator's own (REMPART_REDIS_URL_FILE), else one
        written in Superset's home (0600)."""
        if self.settings.redis.url_file:
            return self.settings.redis.url_file
        self.home.mkdir(parents=True, exist_ok=True)
        self.redis_url_file.touch(mode=0o600)
        self.redis_url_file.chmod(0o600)
        self.redis_url_file.write_text(redis_url(self.settings) + "\n", encoding="utf-8")
        return self.redis_url_file

    def _services(self, foreground: bool = False) -> list[dict[str, object]]:
        """gunicorn (several workers, threads in each), Celery's worker and its beat. In the
        foreground (a container's command), gunicorn's access log goes to standard output."""
        settings = self.settings
        celery = [str(self.binary("celery")), "--app=superset.tasks.celery_app:app"]
        return [
            {
                "name": "web",
                "log": str(self.log_file),
                "argv": [
                    str(self.binary("gunicorn")),
                    "--bind",
                    f"{settings.listen_host}:{settings.superset.port}",
                    "--workers",
                    str(settings.superset.workers),
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(settings.superset.threads),
                    "--timeout",
                    "120",
                    # Connections kept open between requests, as browsers and proxies expect.
                    "--keep-alive",
                    "5",
                    "--error-logfile",
                    "-",
                    # Which worker answered what, how fast, to which X-Request-Id (a proxy
                    # may set one); paths without their query strings.
                    "--access-logfile",
                    "-" if foreground else str(self.access_log),
                    "--access-logformat",
                    '%(t)s pid=%(p)s %(h)s "%(m)s %(U)s" %(s)s %(M)sms request=%({x-request-id}i)s',
                    "superset.app:create_app()",
                ],
            },
            {
                "name": "worker",
                "log": str(self.home / "celery-worker.log"),
                "argv": [
                    *celery,
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={settings.superset.celery_concurrency}",
                    "--hostname=rempart@%h",
                ],
            },
            {
                "name": "beat",
                "log": str(self.home / "celery-beat.log"),
                "argv": [
                    *celery,
                    "beat",
                    "--loglevel=INFO",
                    f"--schedule={self.home / 'celerybeat-schedule'}",
                    "--pidfile=",
                ],
            },
        ]

    def serve(self, service: str, progress: Callable[[str], None] = print) -> NoReturn:
        """Run one service in the foreground, in place of this process: the command of a
        container or a service unit, where the container engine or the init system restarts
        it. `web` first sets up Superset's metadata and accounts, as `start` does."""
        argv = {entry["name"]: entry["argv"] for entry in self._services(foreground=True)}
        if service not in argv:
            raise SupersetError(f"no Superset service {service!r}: web, worker or beat")
        if service == "web":
            self._prepare_redis(progress)
            self.bootstrap(progress)
        environment = self.environment()
        command = [str(part) for part in argv[service]]  # type: ignore[union-attr]
        sys.stdout.flush()
        os.chdir(self.home)
        os.execve(command[0], command, environment)

    def start(self, progress: Callable[[str], None] = print) -> str:
        current = self.status()
        if current.running and current.healthy:
            return f"already {current.detail}"
        if current.running:
            self.stop()
        self._stop_legacy_server()
        if not self._port_free():
            raise SupersetError(
                f"port {self.settings.superset.port} on 127.0.0.1 is taken by another program: "
                "set REMPART_SUPERSET_PORT to a free one"
            )
        self._prepare_redis(progress)
        self.bootstrap(progress)
        progress(f"Superset: starting on {self.url}")
        spec = {
            "state_file": str(self.state_file),
            "env": self.environment(),
            "cwd": str(self.home),
            "services": self._services(),
        }
        self.spec_file.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        self.spec_file.chmod(0o600)
        self.state_file.unlink(missing_ok=True)
        with self.supervisor_log.open("a", encoding="utf-8") as log:
            supervisor = subprocess.Popen(
                [sys.executable, "-m", "flows.runtime.supervisor", str(self.spec_file)],
                cwd=PROJECT_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{supervisor.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if supervisor.poll() is not None:
                raise SupersetError(
                    f"Superset's supervisor exited during start-up (exit {supervisor.returncode})"
                    f":\n{self._log_tail()}"
                )
            current = self.status()
            if current.healthy:
                return current.detail
            time.sleep(1)
        self.stop()
        raise SupersetError(
            f"Superset did not answer within {START_TIMEOUT_SECONDS} s; log: {self.log_file}"
        )

    def _stop_legacy_server(self) -> bool:
        """A gunicorn started without a supervisor, by an earlier Rempart: stop it too."""
        legacy = self.home / "gunicorn.pid"
        try:
            pid = int(legacy.read_text().strip())
            if "gunicorn" in " ".join(psutil.Process(pid).cmdline()):
                psutil.Process(pid).terminate()
                psutil.Process(pid).wait(timeout=30)
                legacy.unlink(missing_ok=True)
                return True
        except (OSError, ValueError, psutil.Error):
            pass
        legacy.unlink(missing_ok=True)
        return False

    def stop(self) -> str:
        legacy = self._stop_legacy_server()
        pid = self._pid()
        if pid is None:
            return "stopped (a server of an earlier release)" if legacy else "not running"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.3)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        return "stopped"
