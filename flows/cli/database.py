"""`rempart db`: the embedded server (or the external one REMPART_DATABASE_URL names)."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from flows.cli.common import CommandError
from flows.runtime.database import DatabaseError, EmbeddedServer, connection_info, temporary_server
from flows.runtime.settings import Settings
from flows.runtime.tools import tool_environment
from flows.warehouse.provision import prepare_database


def start(settings: Settings, arguments: argparse.Namespace) -> int:
    if settings.database_url:
        connection = connection_info(settings)
        with connection.connect(connect_timeout=10):
            pass
        print(f"using the external server {connection.url()} (reachable); nothing to start")
        return 0
    for message in EmbeddedServer(settings).start():
        print(message)
    return 0


def stop(settings: Settings, arguments: argparse.Namespace) -> int:
    if settings.database_url:
        print("REMPART_DATABASE_URL is set: the external server is not ours to stop")
        return 0
    print(EmbeddedServer(settings).stop())
    return 0


def status(settings: Settings, arguments: argparse.Namespace) -> int:
    if settings.database_url:
        connection = connection_info(settings)
        try:
            with connection.connect(connect_timeout=5) as conn:
                version = conn.execute("show server_version").fetchone()
        except DatabaseError as error:
            print(f"external server: unreachable ({error})")
            return 1
        print(f"external server: reachable, PostgreSQL {version[0] if version else '?'}")
        return 0
    embedded = EmbeddedServer(settings).status()
    print(f"embedded server: {embedded.detail}")
    from flows.runtime.disk_encryption import at_rest

    # The data folder holds every landed row in clear, the inbox every file not yet landed.
    for folder in (EmbeddedServer(settings).pgdata, settings.inbox_dir):
        print(f"at rest: {at_rest(folder).describe()}")
    return 0 if embedded.running else 1


def url(settings: Settings, arguments: argparse.Namespace) -> int:
    print(connection_info(settings).url())
    return 0


def psql(settings: Settings, arguments: argparse.Namespace) -> int:
    binary = str(EmbeddedServer.binary("psql"))
    if not Path(binary).exists():
        binary = "psql"
    os.execvp(binary, [binary, connection_info(settings).url(), *arguments.passthrough])
    return 0  # not reached


def scratch(settings: Settings, arguments: argparse.Namespace) -> int:
    command = list(arguments.passthrough)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CommandError("rempart db scratch needs a command to run, e.g. -- sqlfluff lint")
    with temporary_server(settings) as server:
        prepare_database(server)
        env = {**os.environ, **tool_environment(server)}
        env.pop("REMPART_DATABASE_URL", None)
        env["REMPART_STATE_DIR"] = str(server.state_dir)
        return subprocess.run(command, env=env, cwd=settings.project_dir, check=False).returncode


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="the database: start, stop, status, url, psql")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser(
        "start", help="start the embedded server (harmless if running)"
    ).set_defaults(run=start)
    actions.add_parser("stop", help="stop the embedded server").set_defaults(run=stop)
    actions.add_parser(
        "status", help="say whether the database is up (exit 1 if not)"
    ).set_defaults(run=status)
    actions.add_parser(
        "url", help="print a libpq URL (no password: it names a pgpass file)"
    ).set_defaults(run=url)
    actions.add_parser(
        "psql", help="open psql on the database (arguments go to psql)"
    ).set_defaults(run=psql)
    actions.add_parser(
        "scratch", help="run a command against a fresh throw-away server, then remove it"
    ).set_defaults(run=scratch)
