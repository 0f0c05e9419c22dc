"""Superset's accounts as Rempart declares them: the pipeline's service account and its
permissions, the demo accounts (admin, analyst, a viewer per department), the accounts reports
run as, and the secrets that hold their passwords and second factors.
"""

from __future__ import annotations

from flows.names import (
    DATA_STEWARDS,
    REPORT_ACCOUNT_PREFIX,
    SUPERSET_ANALYST_ROLE,
    SUPERSET_UPLOADER_ROLE_PREFIX,
    SUPERSET_VIEWER_ROLE_PREFIX,
    SYNC_ACCOUNT,
)
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.seeds.departments import department_slugs
from flows.superset.errors import SupersetError

ADMIN_USERNAME = "admin"
ANALYST_USERNAME = "analyst"
SYNC_ROLE = "Rempart Sync"
# What the sync does through the REST API, and nothing else: import and export the assets,
# read datasets, manage the department roles, their RLS filters and dashboard access.
SYNC_PERMISSIONS: list[tuple[str, str]] = [
    ("can_export", "ImportExportRestApi"),
    ("can_import_", "ImportExportRestApi"),
    ("can_read", "SecurityRestApi"),  # the CSRF token every write needs
    ("can_read", "Database"),
    ("can_write", "Database"),
    ("can_read", "Dataset"),
    ("can_write", "Dataset"),
    # To see the warehouse's entry and its datasets; its queries would still be refused,
    # since the account has no department (DB_CONNECTION_MUTATOR): it never reads a row.
    ("all_database_access", "all_database_access"),
    ("all_datasource_access", "all_datasource_access"),
    ("can_read", "Chart"),
    ("can_write", "Chart"),
    ("can_read", "Dashboard"),
    ("can_write", "Dashboard"),
    ("can_export", "Dashboard"),
    ("can_get", "Role"),
    ("can_post", "Role"),
    ("can_list_role_permissions", "Role"),
    ("can_add_role_permissions", "Role"),
    ("can_get", "PermissionViewMenu"),
    ("can_read", "Row Level Security"),
    ("can_write", "Row Level Security"),
]
# The accounts reports run as: one per department (its viewer role, so a department's report
# shows that department's rows only) and the data stewards' (every department). They cannot
# log in; the reports' browser gets its session from Superset (machine_sessions.py).
DATA_STEWARDS_REPORT_ACCOUNT = REPORT_ACCOUNT_PREFIX + DATA_STEWARDS


def viewer_username(department: str) -> str:
    return f"viewer_{department}"


def report_account(department: str) -> str:
    return REPORT_ACCOUNT_PREFIX + department


def report_accounts(settings: Settings) -> list[str]:
    return [
        *(report_account(slug) for slug in department_slugs(settings.project_dir)),
        DATA_STEWARDS_REPORT_ACCOUNT,
    ]


def password_secret(username: str) -> str:
    """Name of the secret holding a Superset account's password (the README's convention)."""
    return "superset_admin_password" if username == ADMIN_USERNAME else f"superset_user_{username}"


def totp_secret(username: str) -> str:
    """Name of the secret holding a demo account's second factor."""
    return f"superset_totp_{username}"


def superset_accounts(settings: Settings) -> list[dict[str, object]]:
    """The pipeline's service account and, with Superset's own accounts (REMPART_AUTH=db), the
    demo accounts: admin, analyst, and one viewer per department of the seed. With a
    directory, people's accounts come from it at their first login."""
    accounts = [
        (ADMIN_USERNAME, "Rempart", "Administrator", ["Admin"]),
        (ANALYST_USERNAME, "Rempart", "Analyst", [SUPERSET_ANALYST_ROLE]),
    ] + [
        (
            viewer_username(slug),
            "Viewer",
            slug,
            [SUPERSET_VIEWER_ROLE_PREFIX + slug, SUPERSET_UPLOADER_ROLE_PREFIX + slug],
        )
        for slug in department_slugs(settings.project_dir)
    ]
    if settings.directory.auth != "db":
        accounts = []
    store = SecretStore(settings.secrets_dir)
    result = []
    for username, first_name, last_name, roles in accounts:
        store.get(password_secret(username))  # created on first use
        result.append(
            {
                "username": username,
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@rempart.invalid",
                "roles": roles,
                "password_file": str(store.path(password_secret(username))),
                "totp_secret_file": str(store.path(totp_secret(username))),
            }
        )
    reporters = [
        (report_account(slug), [SUPERSET_VIEWER_ROLE_PREFIX + slug])
        for slug in department_slugs(settings.project_dir)
    ] + [(DATA_STEWARDS_REPORT_ACCOUNT, [SUPERSET_ANALYST_ROLE])]
    for username, roles in reporters:
        result.append(
            {
                "username": username,
                "first_name": "Rempart",
                "last_name": "reports",
                "email": f"{username}@rempart.invalid",
                "roles": roles,
            }
        )
    store.get(password_secret(SYNC_ACCOUNT))
    result.append(
        {
            "username": SYNC_ACCOUNT,
            "first_name": "Rempart",
            "last_name": "pipeline",
            "email": f"{SYNC_ACCOUNT}@rempart.invalid",
            "roles": [SYNC_ROLE],
            "password_file": str(store.path(password_secret(SYNC_ACCOUNT))),
        }
    )
    return result


def current_demo_code(settings: Settings, username: str) -> str:
    """The code a demo account's authenticator would show now, from its secret in the store."""
    import pyotp  # `rempart superset otp` only

    path = SecretStore(settings.secrets_dir).path(totp_secret(username))
    if not path.exists():
        raise SupersetError(
            f"{username} has no second-factor secret in the secrets store ({path}): it is "
            "not a demo account, or its second factor was reset and it enrolled its own device"
        )
    return pyotp.TOTP(path.read_text(encoding="utf-8").strip()).now()
