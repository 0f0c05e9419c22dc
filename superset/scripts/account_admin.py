"""Administer Superset accounts' security state, run inside Superset's own environment.

`rempart superset unlock USER` and `rempart superset mfa reset USER` run this with
`.venv-superset/bin/python`, in the environment `rempart superset start` gives Superset, so
it reaches the same metadata database and the same audit trail. Each act is audited as the
operator's; if the audit trail cannot record it, the command fails.

Usage: account_admin.py unlock USERNAME --operator NAME
       account_admin.py mfa-reset USERNAME --operator NAME [--demo-secret-file PATH]
"""

import argparse
import sys
from pathlib import Path
from typing import Any

# Rempart's modules for Superset (superset/rempart_superset/) are one folder up: run by path,
# this script has only superset/scripts/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rempart_superset.audit.audit_trail import append_event
from superset.app import create_app


def unlock(security: Any, username: str, operator: str) -> tuple[str, bool]:
    was_locked = security.login_attempts.lockout.unlock(username)
    written = append_event(
        "superset_account_unlocked", operator, {"account": username, "was_locked": was_locked}
    )
    return ("unlocked" if was_locked else "was not locked; failures cleared"), written


def reset_second_factor(
    security: Any, username: str, operator: str, demo_secret: Path | None
) -> tuple[str, bool]:
    user = security.find_user(username=username)
    if user is None:
        raise LookupError(f"no Superset account {username}")
    had_enrolment = security.second_factor.reset(user.id)
    sessions = security.session_registry.close_all_for(user.id)
    # Else the next start would enrol the account again with the demo secret.
    if demo_secret is not None:
        demo_secret.unlink(missing_ok=True)
    written = append_event(
        "superset_mfa_reset",
        operator,
        {"account": username, "had_enrolment": had_enrolment, "sessions_ended": sessions},
    )
    outcome = "second factor reset" if had_enrolment else "had no second factor"
    return f"{outcome}; {sessions} session(s) ended; it enrols at its next login", written


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["unlock", "mfa-reset"])
    parser.add_argument("username")
    parser.add_argument("--operator", required=True)
    parser.add_argument("--demo-secret-file", type=Path)
    arguments = parser.parse_args()
    app = create_app()
    with app.app_context():
        security = app.appbuilder.sm
        try:
            if arguments.action == "unlock":
                outcome, written = unlock(security, arguments.username, arguments.operator)
            else:
                outcome, written = reset_second_factor(
                    security, arguments.username, arguments.operator, arguments.demo_secret_file
                )
        except LookupError as error:
            print(error, file=sys.stderr)
            return 1
    if not written:
        print(f"the {arguments.action} could not be written to the audit trail", file=sys.stderr)
        return 1
    print(f"{arguments.username}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
