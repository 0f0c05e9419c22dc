"""Administer Superset accounts' security state, run inside Superset's own environment.

`rempart superset unlock USER` runs this with `.venv-superset/bin/python`, in the
environment `rempart superset start` gives Superset, so it reaches the same metadata
database and the same audit trail.

Usage: account_admin.py unlock USERNAME --operator NAME
"""

import argparse
import sys

import superset_config
from rempart_superset.audit_trail import append_event


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["unlock"])
    parser.add_argument("username")
    parser.add_argument("--operator", required=True)
    arguments = parser.parse_args()
    lockout = superset_config.account_lockout()
    lockout.create_tables()
    was_locked = lockout.unlock(arguments.username)
    written = append_event(
        "superset_account_unlocked",
        arguments.operator,
        {"account": arguments.username, "was_locked": was_locked},
    )
    if not written:
        print("the unlock could not be written to the audit trail", file=sys.stderr)
        return 1
    outcome = "unlocked" if was_locked else "was not locked; failures cleared"
    print(f"{arguments.username}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
