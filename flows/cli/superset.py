"""`rempart superset`: the dashboards' server, its sync and its accounts."""

from __future__ import annotations

import argparse

from flows.cli.common import CommandError
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.superset import accounts, schedules, sync
from flows.superset import server as superset_server
from flows.superset.errors import SupersetError
from flows.warehouse.provision import prepare_database


def start(settings: Settings, server: superset_server.SupersetServer) -> None:
    print(f"Superset: {server.start()}")
    secrets = SecretStore(settings.secrets_dir)
    print(f"Dashboards: {server.url}/dashboard/list/")
    if settings.directory.auth != "db":
        print("  log in with your directory account")
        return
    print(
        f"  log in as {accounts.ADMIN_USERNAME}, password in "
        f"{secrets.path('superset_admin_password')}"
    )
    print(
        "  or as analyst / viewer_<department>, password in "
        f"{secrets.directory / 'superset_user_<username>'}"
    )
    print("  second-factor code of a demo account: rempart superset otp USER")


# The actions that read or write the warehouse (the others manage processes or local files).
WORKS_ON_THE_WAREHOUSE = {"start", "serve", "sync", "unlock", "mfa", "send"}


def superset(settings: Settings, arguments: argparse.Namespace) -> int:
    action = arguments.superset_command
    username = getattr(arguments, "username", None)
    server = superset_server.SupersetServer(settings)
    if action in WORKS_ON_THE_WAREHOUSE:
        prepare_database(settings)
    try:
        if action == "start":
            start(settings, server)
        elif action == "serve":
            server.serve(arguments.service)
        elif action == "stop":
            print(f"Superset: {server.stop()}")
        elif action == "status":
            status = server.status()
            print(f"Superset: {status.detail}")
            return 0 if status.running else 1
        elif action == "sync":
            sync.sync(settings)
        elif action == "unlock":
            print(server.unlock(username))
        elif action == "mfa":
            print(server.reset_second_factor(username))
        elif action == "send":
            for name in schedules.send_now(settings, arguments.names):
                print(f"queued: {name} (Superset's worker runs it now; its log says how it went)")
        elif action == "otp":
            print(accounts.current_demo_code(settings, username))
        elif action == "export":
            for path in sync.export_assets(settings):
                print(f"wrote {path.relative_to(settings.project_dir)}")
    except (SupersetError, schedules.DeclarationError) as error:
        raise CommandError(str(error)) from error
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("superset", help="the dashboards: start, stop, status, sync")
    group.set_defaults(run=superset)
    actions = group.add_subparsers(dest="superset_command", required=True, metavar="ACTION")
    actions.add_parser("start", help="set up and serve Superset on 127.0.0.1")
    serve = actions.add_parser(
        "serve",
        help="run one of Superset's services in the foreground (a container's command): "
        "web (sets up, then gunicorn), worker or beat (Celery)",
    )
    serve.add_argument("service", choices=["web", "worker", "beat"])
    actions.add_parser("stop", help="stop Superset")
    actions.add_parser("status", help="say whether Superset is up (exit 1 if not)")
    actions.add_parser(
        "sync", help="datasets from the dbt marts, dashboards from superset/assets, roles, RLS"
    )
    actions.add_parser(
        "export", help="write the dashboards, as edited in Superset, back to superset/assets"
    )
    send = actions.add_parser(
        "send",
        help="run alerts or reports of superset/alerts_reports.yaml now, by name: a report is "
        "sent, an alert sent if its condition holds (audited)",
    )
    send.add_argument("names", metavar="NAME", nargs="+")
    unlock = actions.add_parser(
        "unlock", help="lift the lockout of an account after too many failed logins (audited)"
    )
    unlock.add_argument("username", metavar="USER")
    otp = actions.add_parser(
        "otp", help="print the current second-factor code of a demo account (from .rempart/)"
    )
    otp.add_argument("username", metavar="USER")
    mfa = actions.add_parser("mfa", help="administer accounts' second factor")
    mfa_actions = mfa.add_subparsers(dest="mfa_command", required=True, metavar="ACTION")
    reset = mfa_actions.add_parser(
        "reset",
        help="forget an account's second factor and end its sessions: it enrols anew at its "
        "next login (audited)",
    )
    reset.add_argument("username", metavar="USER")
