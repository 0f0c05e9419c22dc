"""Create or update Superset accounts, run inside Superset's own environment.

`rempart superset start` runs this with `.venv-superset/bin/python` after the metadata
migrations: passwords are read from the files named on stdin (one JSON document), never from
the command line, where any local user could read them in the process list.

Input:  {"users": [{"username", "first_name", "last_name", "email", "roles": [...],
                    "password_file", "totp_secret_file" (optional)}],
         "role_permissions": {"role": [[permission, view], ...]}}
Roles other than the built-in ones are created empty if missing; the sync grants them
their permissions, except the roles of `role_permissions` (the sync's own), set here.

An existing account keeps its password hash while the file's password matches it (a new hash
would end its sessions), and stays deactivated if an administrator deactivated it.

A demo account with a `totp_secret_file` is enrolled in the second factor with that secret,
generated when the account is created. An account that has no enrolment and no such file
(after `rempart superset mfa reset`) enrols its own device at its next login.
"""

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import pyotp
from superset.app import create_app
from werkzeug.security import check_password_hash


def _new_totp_secret(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(pyotp.random_base32() + "\n")


def _enrol_demo_account(security: Any, user: Any, spec: dict, created: bool) -> None:
    if not spec.get("totp_secret_file"):
        return
    path = Path(spec["totp_secret_file"])
    if created and not path.exists():
        _new_totp_secret(path)
    if not path.exists() or security.second_factor.is_enrolled(user.id):
        return
    security.second_factor.enrol_with_secret(user.id, path.read_text(encoding="utf-8").strip())
    print(f"enrolled {user.username} with its second factor from {path}")


def _set_role_permissions(security: Any, role_name: str, wanted: list[list[str]]) -> int:
    role = security.find_role(role_name) or security.add_role(role_name)
    permissions = []
    for permission_name, view_name in wanted:
        permission = security.find_permission_view_menu(permission_name, view_name)
        if permission is None:
            print(f"Superset has no permission {permission_name} on {view_name}", file=sys.stderr)
            return 1
        permissions.append(permission)
    if set(role.permissions) != set(permissions):
        role.permissions = permissions
        security.session.commit()
    return 0


def main() -> int:
    request = json.load(sys.stdin)
    app = create_app()
    with app.app_context():
        security = app.appbuilder.sm
        for role_name, wanted in request.get("role_permissions", {}).items():
            if _set_role_permissions(security, role_name, wanted):
                return 1
        for spec in request["users"]:
            # A report account has no password file: a new random password at every start,
            # never stored, and Rempart's login refuses it anyway (machine_sessions.py).
            if spec.get("password_file"):
                password = Path(spec["password_file"]).read_text(encoding="utf-8").strip()
            else:
                password = secrets.token_urlsafe(32)
            roles = [security.find_role(name) or security.add_role(name) for name in spec["roles"]]
            user = security.find_user(username=spec["username"])
            if user is None:
                new_user = security.add_user(
                    spec["username"],
                    spec["first_name"],
                    spec["last_name"],
                    spec["email"],
                    roles,
                    password=password,
                )
                if not new_user:
                    print(f"could not create Superset user {spec['username']}", file=sys.stderr)
                    return 1
                print(f"created Superset user {spec['username']}")
                _enrol_demo_account(security, new_user, spec, created=True)
            else:
                user.roles = roles  # an account an administrator deactivated stays so
                security.update_user(user)
                # Set only when it changed: a new hash would end every session of the account
                # (sessions are bound to it, identity/session_registry.py).
                if not check_password_hash(user.password or "", password):
                    security.reset_password(user.id, password)
                _enrol_demo_account(security, user, spec, created=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
