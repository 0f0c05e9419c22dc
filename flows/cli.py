"""The `rempart` command line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from flows.database import (
    DatabaseError,
    EmbeddedServer,
    connection_info,
    role_connection,
    temporary_server,
)
from flows.provision import TRANSFORMER_ROLE, prepare_database
from flows.secrets import SecretError, SecretStore
from flows.settings import Settings, load_settings
from loaders.schema import KeyMismatchError


class CommandError(RuntimeError):
    """A failure the user can act on: printed as one line, exit code 1, no traceback."""


def tool_environment(settings: Settings) -> dict[str, str]:
    """Environment for dbt and other tools, as the transformer role; never a password."""
    connection = role_connection(settings, TRANSFORMER_ROLE)
    env = {
        **connection.libpq_env(),
        "REMPART_DB_HOST": connection.host,
        "REMPART_DB_PORT": str(connection.port),
        "REMPART_DB_USER": connection.user,
        "REMPART_DB_NAME": connection.dbname,
        "REMPART_DB_SSLMODE": connection.options.get(
            "sslmode", "disable" if connection.host.startswith("/") else "prefer"
        ),
        "DBT_PROFILES_DIR": str(settings.project_dir / "dbt_project"),
        "DBT_PROJECT_DIR": str(settings.project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # Timestamps without a zone in source files are read as UTC, whatever the server says.
        "PGOPTIONS": "-c timezone=UTC",
    }
    return env


def _venv_binary(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


# -- rempart db ---------------------------------------------------------------------------


def db_start(settings: Settings) -> int:
    if settings.database_url:
        connection = connection_info(settings)
        with connection.connect(connect_timeout=10):
            pass
        print(f"using the external server {connection.url()} (reachable); nothing to start")
        return 0
    for message in EmbeddedServer(settings).start():
        print(message)
    return 0


def db_stop(settings: Settings) -> int:
    if settings.database_url:
        print("REMPART_DATABASE_URL is set: the external server is not ours to stop")
        return 0
    print(EmbeddedServer(settings).stop())
    return 0


def db_status(settings: Settings) -> int:
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
    status = EmbeddedServer(settings).status()
    print(f"embedded server: {status.detail}")
    return 0 if status.running else 1


def db_url(settings: Settings) -> int:
    print(connection_info(settings).url())
    return 0


def db_psql(settings: Settings, extra: Sequence[str]) -> int:
    psql = str(EmbeddedServer.binary("psql"))
    if not Path(psql).exists():
        psql = "psql"
    os.execvp(psql, [psql, connection_info(settings).url(), *extra])
    return 0  # not reached


def db_scratch(settings: Settings, command: Sequence[str]) -> int:
    import subprocess

    command = list(command[1:] if command[:1] == ["--"] else command)
    if not command:
        raise CommandError("rempart db scratch needs a command to run, e.g. -- sqlfluff lint")
    with temporary_server(settings) as scratch:
        prepare_database(scratch)
        env = {**os.environ, **tool_environment(scratch)}
        env.pop("REMPART_DATABASE_URL", None)
        env["REMPART_STATE_DIR"] = str(scratch.state_dir)
        return subprocess.run(command, env=env, cwd=settings.project_dir, check=False).returncode


# -- rempart env / dbt --------------------------------------------------------------------


def print_env(settings: Settings) -> int:
    prepare_database(settings)
    for key, value in tool_environment(settings).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def run_dbt(settings: Settings, args: Sequence[str]) -> int:
    import subprocess

    prepare_database(settings)
    env = {**os.environ, **tool_environment(settings)}
    completed = subprocess.run(
        [_venv_binary("dbt"), *args], cwd=settings.project_dir, env=env, check=False
    )
    return completed.returncode


# -- rempart ingest / audit / archive ------------------------------------------------------


def run_ingest(settings: Settings, paths: Sequence[Path]) -> int:
    from flows.ingest import exit_code, ingest

    return exit_code(ingest(settings, paths))


def copy_examples(settings: Settings) -> int:
    import shutil

    source = settings.project_dir / "data" / "examples" / "files"
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    for example in sorted(source.iterdir()):
        shutil.copyfile(example, settings.inbox_dir / example.name)
        print(f"copied {example.name} into {settings.inbox_dir}")
    return 0


def audit_verify(settings: Settings) -> int:
    from loaders.audit import verify_chain

    prepare_database(settings)
    key = SecretStore(settings.secrets_dir).get_bytes("audit_key")
    with connection_info(settings).connect() as conn:
        report = verify_chain(conn, key)
    if report.intact:
        print(f"audit trail intact: {report.events} events verified")
        return 0
    print(f"audit trail BROKEN at event {report.broken_event_id}: {report.problem}")
    return 4


def _passphrase(passphrase_file: Path | None, confirm: bool) -> str:
    """From a file (scripts), else typed twice at the terminal, never echoed."""
    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").rstrip("\n")
    import getpass

    passphrase = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("the same passphrase again: ") != passphrase:
        raise CommandError("the two passphrases differ: nothing written")
    return passphrase


def secrets_command(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.secrets_export import SecretsExportError, export_secrets, import_secrets

    try:
        if arguments.secrets_command == "export":
            passphrase = _passphrase(arguments.passphrase_file, confirm=True)
            count = export_secrets(settings.secrets_dir, arguments.to, passphrase)
            print(
                f"{count} secrets written to {arguments.to}, encrypted under your passphrase: "
                "keep it away from the backups, and the passphrase away from both"
            )
            return 0
        passphrase = _passphrase(arguments.passphrase_file, confirm=False)
        written, present = import_secrets(arguments.source, settings.secrets_dir, passphrase)
        print(f"{written} secrets imported into {settings.secrets_dir} ({present} already there)")
        return 0
    except (SecretsExportError, OSError) as error:
        raise CommandError(str(error)) from error


def backup_command(
    settings: Settings, action: str, name: str | None = None, dry_run: bool = False
) -> int:
    from flows.backup.backup_set import BackupError, create_backups, list_sets
    from flows.backup.verify import last_verifications, verify_set

    prepare_database(settings)
    if action == "create":
        try:
            create_backups(settings)
        except BackupError as error:
            raise CommandError(str(error)) from error
        return 0
    sets = {s.path.name: s for d in settings.backup_destinations for s in list_sets(d)}
    if action == "verify":
        if not sets:
            raise CommandError("no backup set to verify: `rempart backup create` first")
        chosen = sets.get(name or max(sets))
        if chosen is None:
            raise CommandError(
                f"no complete set named {name} in {settings.backup_dirs or 'the'} backup folders"
            )
        result = verify_set(settings, chosen.path)
        if result.passed:
            print(
                f"{chosen.path.name}: verified ({result.tables} tables restored and equal, "
                f"audit trail intact) in {result.seconds} s"
            )
            return 0
        for problem in result.problems:
            print(f"{chosen.path.name}: {problem}", file=sys.stderr)
        return 5
    verified = last_verifications(settings)
    if action == "rotate":
        from flows.backup.rotation import rotate

        passed = {set_name for set_name, (ok, _) in verified.items() if ok}
        removed = rotate(settings, passed, dry_run=dry_run)
        print(f"{len(removed)} set(s) {'would be ' if dry_run else ''}removed")
        return 0
    now = datetime.now(UTC)
    for destination in settings.backup_destinations:
        in_destination = list_sets(destination)
        print(f"{destination}: {len(in_destination)} set(s)")
        for backup in in_destination:
            age = now - backup.created_at
            passed, when = verified.get(backup.path.name, (None, ""))
            state = (
                "never verified"
                if passed is None
                else (f"verified {when}" if passed else f"FAILED verification {when}")
            )
            print(
                f"  {backup.path.name}  {backup.size / 1e6:9.1f} MB  "
                f"{age.days} d {age.seconds // 3600} h old  {state}"
            )
    return 0


def archive_decrypt(settings: Settings, source: Path, output: Path) -> int:
    from loaders.archive import ArchiveError, decrypt_file

    if not source.is_file():
        raise CommandError(f"no such archive: {source}")
    if output.exists():
        raise CommandError(f"{output} exists: choose another output path")
    key = SecretStore(settings.secrets_dir).get_bytes("archive_key")
    try:
        decrypt_file(source, output, key)
    except ArchiveError as error:
        raise CommandError(f"{source}: {error}") from error
    print(f"restored {output} ({output.stat().st_size:,} bytes)")
    return 0


# -- rempart run / watch / docs ------------------------------------------------------------


def run_flow(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.orchestration import run_pipeline

    return run_pipeline(
        settings, arguments.inbox, arguments.select, arguments.full_refresh, force=arguments.force
    )


def watch_inbox(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.orchestration import watch

    return watch(settings, arguments.interval, arguments.quiet_seconds)


def serve_docs(settings: Settings, port: int) -> int:
    """Generate dbt docs and serve them on 127.0.0.1 only (the lineage graph)."""
    if run_dbt(settings, ["docs", "generate"]) != 0:
        raise CommandError("dbt docs generate failed (see above)")
    print(f"dbt docs on http://127.0.0.1:{port} (Ctrl-C stops)")
    return run_dbt(
        settings, ["docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser"]
    )


# -- rempart superset ---------------------------------------------------------------------


def superset_command(settings: Settings, action: str, username: str | None = None) -> int:
    from flows import superset_server, superset_sync

    server = superset_server.SupersetServer(settings)
    try:
        if action == "start":
            prepare_database(settings)
            print(f"Superset: {server.start()}")
            secrets = SecretStore(settings.secrets_dir)
            print(f"Dashboards: {server.url}/dashboard/list/")
            if settings.auth != "db":
                print("  log in with your directory account")
                return 0
            print(
                f"  log in as {superset_server.ADMIN_USERNAME}, password in "
                f"{secrets.path('superset_admin_password')}"
            )
            print(
                "  or as analyst / viewer_<department>, password in "
                f"{secrets.directory / 'superset_user_<username>'}"
            )
            print("  second-factor code of a demo account: rempart superset otp USER")
            return 0
        if action == "stop":
            print(f"Superset: {server.stop()}")
            return 0
        if action == "status":
            status = server.status()
            print(f"Superset: {status.detail}")
            return 0 if status.running else 1
        if action == "sync":
            prepare_database(settings)
            superset_sync.sync(settings)
            return 0
        if action == "unlock" and username:
            prepare_database(settings)
            print(server.unlock(username))
            return 0
        if action == "mfa-reset" and username:
            prepare_database(settings)
            print(server.reset_second_factor(username))
            return 0
        if action == "otp" and username:
            print(superset_server.current_demo_code(settings, username))
            return 0
        if action == "export":
            for path in superset_sync.export_assets(settings):
                print(f"wrote {path.relative_to(settings.project_dir)}")
            return 0
    except superset_server.SupersetError as error:
        raise CommandError(str(error)) from error
    raise CommandError(f"unknown superset action {action}")


# -- argument parsing ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rempart",
        description="Rempart: files in, governed KPI dashboards out, on your own machine.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="the database: start, stop, status, url, psql")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("start", help="start the embedded server (harmless if running)")
    db_commands.add_parser("stop", help="stop the embedded server")
    db_commands.add_parser("status", help="say whether the database is up (exit 1 if not)")
    db_commands.add_parser("url", help="print a libpq URL (no password: it names a pgpass file)")
    db_commands.add_parser("psql", help="open psql on the database (arguments go to psql)")

    db_commands.add_parser(
        "scratch", help="run a command against a fresh throw-away server, then remove it"
    )

    ingest = commands.add_parser("ingest", help="land files (default: the inbox) into raw")
    ingest.add_argument("paths", nargs="*", type=Path, help="files or folders (default: inbox)")

    commands.add_parser("examples", help="copy the demo files into the inbox")

    run = commands.add_parser("run", help="the main job: ingest, dbt build, Superset sync")
    run.add_argument("--inbox", type=Path, help="inbox folder (default: REMPART_INBOX_DIR)")
    run.add_argument("--select", help="dbt node selection (default: everything)")
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    run.add_argument(
        "--force",
        action="store_true",
        help="build even if no file landed and the project is unchanged since the last build",
    )

    watch = commands.add_parser("watch", help="run the pipeline whenever files arrive")
    watch.add_argument("--interval", type=float, default=5.0, help="seconds between looks")
    watch.add_argument(
        "--quiet-seconds",
        type=float,
        default=5.0,
        help="a file must stay unchanged this long before it is taken",
    )

    docs = commands.add_parser("docs", help="generate dbt docs and serve them on 127.0.0.1")
    docs.add_argument("--port", type=int, default=8580, help="port (default 8580)")

    superset = commands.add_parser("superset", help="the dashboards: start, stop, status, sync")
    superset_commands = superset.add_subparsers(
        dest="superset_command", required=True, metavar="ACTION"
    )
    superset_commands.add_parser("start", help="set up and serve Superset on 127.0.0.1")
    superset_commands.add_parser("stop", help="stop Superset")
    superset_commands.add_parser("status", help="say whether Superset is up (exit 1 if not)")
    superset_commands.add_parser(
        "sync", help="datasets from the dbt marts, dashboards from superset/assets, roles, RLS"
    )
    superset_commands.add_parser(
        "export", help="write the dashboards, as edited in Superset, back to superset/assets"
    )
    unlock = superset_commands.add_parser(
        "unlock", help="lift the lockout of an account after too many failed logins (audited)"
    )
    unlock.add_argument("username", metavar="USER")
    otp = superset_commands.add_parser(
        "otp", help="print the current second-factor code of a demo account (from .rempart/)"
    )
    otp.add_argument("username", metavar="USER")
    mfa = superset_commands.add_parser("mfa", help="administer accounts' second factor")
    mfa_commands = mfa.add_subparsers(dest="mfa_command", required=True, metavar="ACTION")
    mfa_reset = mfa_commands.add_parser(
        "reset",
        help="forget an account's second factor and end its sessions: it enrols anew at its "
        "next login (audited)",
    )
    mfa_reset.add_argument("username", metavar="USER")

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_commands.add_parser("verify", help="check every event's keyed hash and chain link")

    backup = commands.add_parser(
        "backup", help="encrypted backup sets: create, list, verify, rotate"
    )
    backup_commands = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    backup_commands.add_parser(
        "create", help="one encrypted set (warehouse, Superset, archive) in REMPART_BACKUP_DIRS"
    )
    backup_commands.add_parser("list", help="the complete sets of each destination")
    verify = backup_commands.add_parser(
        "verify", help="restore a set (default: the newest) into a throw-away server and compare"
    )
    rotate = backup_commands.add_parser(
        "rotate",
        help="delete the sets beyond REMPART_BACKUP_KEEP_DAILY/_WEEKLY/_MONTHLY, never the "
        "last verified one",
    )
    rotate.add_argument("--dry-run", action="store_true", help="say what would go, delete none")
    verify.add_argument("set_name", nargs="?", metavar="SET", help="e.g. rempart-20261203T020000Z")

    secrets = commands.add_parser("secrets", help="the secrets store: export and import")
    secrets_commands = secrets.add_subparsers(
        dest="secrets_command", required=True, metavar="ACTION"
    )
    export = secrets_commands.add_parser(
        "export", help="write every secret to a file encrypted under a passphrase you type"
    )
    export.add_argument("--to", type=Path, required=True, help="the file to write (not existing)")
    imported = secrets_commands.add_parser(
        "import", help="bring an export back into an empty (or identical) secrets store"
    )
    imported.add_argument("--from", dest="source", type=Path, required=True, help="an export")
    for command in (export, imported):
        command.add_argument(
            "--passphrase-file", type=Path, help="read the passphrase from this file (scripts)"
        )

    archive = commands.add_parser("archive", help="the encrypted archive of landed files")
    archive_commands = archive.add_subparsers(
        dest="archive_command", required=True, metavar="ACTION"
    )
    decrypt = archive_commands.add_parser("decrypt", help="restore an archived file")
    decrypt.add_argument("archive_file", type=Path, help="a .enc file from the archive")
    decrypt.add_argument("-o", "--output", type=Path, required=True, help="where to write it")

    commands.add_parser("env", help='print shell exports for dbt and psql: eval "$(rempart env)"')
    commands.add_parser(
        "dbt", help="run dbt with Rempart's connection settings (arguments go to dbt)"
    )
    return parser


def dispatch(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.command == "db":
        if arguments.db_command == "psql":
            return db_psql(settings, arguments.passthrough)
        if arguments.db_command == "scratch":
            return db_scratch(settings, arguments.passthrough)
        actions = {"start": db_start, "stop": db_stop, "status": db_status, "url": db_url}
        return actions[arguments.db_command](settings)
    if arguments.command == "ingest":
        return run_ingest(settings, arguments.paths)
    if arguments.command == "run":
        return run_flow(settings, arguments)
    if arguments.command == "watch":
        return watch_inbox(settings, arguments)
    if arguments.command == "docs":
        return serve_docs(settings, arguments.port)
    if arguments.command == "examples":
        return copy_examples(settings)
    if arguments.command == "superset":
        action = arguments.superset_command
        if action == "mfa":
            action = f"mfa-{arguments.mfa_command}"
        return superset_command(settings, action, getattr(arguments, "username", None))
    if arguments.command == "audit":
        return audit_verify(settings)
    if arguments.command == "backup":
        return backup_command(
            settings,
            arguments.backup_command,
            getattr(arguments, "set_name", None),
            getattr(arguments, "dry_run", False),
        )
    if arguments.command == "secrets":
        return secrets_command(settings, arguments)
    if arguments.command == "archive":
        return archive_decrypt(settings, arguments.archive_file, arguments.output)
    if arguments.command == "env":
        return print_env(settings)
    if arguments.command == "dbt":
        return run_dbt(settings, arguments.passthrough)
    raise CommandError(f"unknown command {arguments.command}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # dbt, psql and scratch pass everything after their name through untouched.
    passthrough: list[str] = []
    for prefix in (["dbt"], ["db", "psql"], ["db", "scratch"]):
        if argv[: len(prefix)] == prefix:
            argv, passthrough = prefix, argv[len(prefix) :]
            break
    arguments = build_parser().parse_args(argv)
    arguments.passthrough = passthrough
    try:
        settings = load_settings()
        return dispatch(arguments, settings)
    except ValidationError as error:
        problems = "; ".join(
            f"REMPART_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        print(f"rempart: error: invalid settings: {problems}", file=sys.stderr)
        return 2
    except (CommandError, DatabaseError, SecretError, KeyMismatchError, FileNotFoundError) as error:
        print(f"rempart: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rempart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
