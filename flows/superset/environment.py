"""The parts of Superset's environment that come from one component's settings each: the mail
server of reports and alerts, the directory or identity provider people log in through, and
the warehouse. The secrets they need are named as files of the secrets store, never passed as
values.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from flows.names import ANALYST_ROLE as ANALYST_DB_ROLE
from flows.names import SUPERSET_ANALYST_ROLE, SUPERSET_VIEWER_ROLE_PREFIX
from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import DirectorySettings, MailSettings, Settings
from flows.seeds.departments import directory_groups
from flows.superset.errors import SupersetError
from flows.warehouse.provision import superset_passfile


def mail_environment(mail: MailSettings, store: SecretStore) -> dict[str, str]:
    """Where reports and alerts are mailed from; the password is a file of the secrets store
    (`smtp_password`), which Rempart never generates."""
    if mail.user and not (mail.starttls or mail.ssl):
        raise SupersetError(
            "REMPART_SMTP_USER is set but neither REMPART_SMTP_STARTTLS nor REMPART_SMTP_SSL:"
            " the mail password would cross the network in clear; refusing to start"
        )
    environment = {
        "REMPART_SMTP_HOST": mail.host,
        "REMPART_SMTP_PORT": str(mail.port),
        "REMPART_SMTP_STARTTLS": str(mail.starttls).lower(),
        "REMPART_SMTP_SSL": str(mail.ssl).lower(),
        "REMPART_SMTP_USER": mail.user,
        "REMPART_SMTP_MAIL_FROM": mail.mail_from,
    }
    if mail.user:
        environment["REMPART_SMTP_PASSWORD_FILE"] = str(store.path("smtp_password"))
    return environment


LDAP_FIELDS = (
    "url",
    "start_tls",
    "ca_file",
    "bind_dn",
    "user_base",
    "uid_attribute",
    "user_filter",
    "group_base",
    "group_filter",
)
OIDC_FIELDS = ("issuer", "client_id", "scope", "username_claim", "groups_claim")


def directory_environment(
    directory: DirectorySettings, project_dir: Path, store: SecretStore
) -> dict[str, str]:
    """Where the directory or the identity provider is and how its groups map to roles; the
    LDAP bind password and the OIDC client secret are files of the secrets store
    (`ldap_bind_password`, `oidc_client_secret`), which Rempart never generates."""
    roles = {
        group: [SUPERSET_VIEWER_ROLE_PREFIX + department]
        for group, department in directory_groups(project_dir).items()
    }
    roles.setdefault(directory.directory_admin_group, []).append("Admin")
    roles.setdefault(directory.directory_analyst_group, []).append(SUPERSET_ANALYST_ROLE)
    environment = {"REMPART_AUTH": directory.auth, "REMPART_DIRECTORY_ROLES": json.dumps(roles)}
    if directory.auth == "ldap":
        environment.update(
            {
                f"REMPART_LDAP_{name.upper()}": str(getattr(directory, f"ldap_{name}"))
                for name in LDAP_FIELDS
            }
        )
        environment["REMPART_LDAP_BIND_PASSWORD_FILE"] = str(store.path("ldap_bind_password"))
    if directory.auth == "oidc":
        environment.update(
            {
                f"REMPART_OIDC_{name.upper()}": getattr(directory, f"oidc_{name}")
                for name in OIDC_FIELDS
            }
        )
        environment["REMPART_OIDC_CLIENT_SECRET_FILE"] = str(store.path("oidc_client_secret"))
    return environment


def warehouse_uri(settings: Settings) -> str:
    """Superset's connection: the analyst role; its password stays in Superset's pgpass file."""
    info = connection_info(settings)
    query = {}
    if info.host.startswith("/"):
        authority = f"{ANALYST_DB_ROLE}@"
        query["host"] = info.host
        if info.port != 5432:
            query["port"] = str(info.port)
    else:
        authority = f"{ANALYST_DB_ROLE}@{info.host}:{info.port}"
    query["passfile"] = str(superset_passfile(settings))
    query.update({k: v for k, v in info.options.items() if k.startswith("ssl")})
    encoded = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    return f"postgresql+psycopg2://{authority}/{quote(info.dbname)}?{encoded}"


def warehouse_environment(settings: Settings) -> dict[str, str]:
    """The one connection Superset may open to PostgreSQL (its guard refuses any other,
    rempart_superset/warehouse/warehouse_access.py), and the only password file libpq reads
    there: the readers' passwords, never the operator's."""
    return {
        "REMPART_WAREHOUSE_URI": warehouse_uri(settings),
        "PGPASSFILE": str(superset_passfile(settings)),
    }
