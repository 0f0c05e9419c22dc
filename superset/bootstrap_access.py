"""Create or update Superset accounts, run inside Superset's own environment.

`rempart superset start` runs this with `.venv-superset/bin/python` after the metadata
migrations: passwords are read from the files named on stdin (one JSON document), never from
the command line, where any local user could read them in the process list.

Input:  {"users": [{"username", "first_name", "last_name", "email", "roles": [...],
                    "password_file"}]}
Roles other than the built-in ones are created empty if missing; the sync grants them
their permissions.
"""

import json
import sys
from pathlib import Path

from superset.app import create_app


def main() -> int:
    request = json.load(sys.stdin)
    app = create_app()
    with app.app_context():
        security = app.appbuilder.sm
        for spec in request["users"]:
            password = Path(spec["password_file"]).read_text(encoding="utf-8").strip()
            roles = [security.find_role(name) or security.add_role(name) for name in spec["roles"]]
            user = security.find_user(username=spec["username"])
            if user is None:
                created = security.add_user(
                    spec["username"],
                    spec["first_name"],
                    spec["last_name"],
                    spec["email"],
                    roles,
                    password=password,
                )
                if not created:
                    print(f"could not create Superset user {spec['username']}", file=sys.stderr)
                    return 1
                print(f"created Superset user {spec['username']}")
            else:
                user.roles = roles
                user.active = True
                security.update_user(user)
                security.reset_password(user.id, password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
