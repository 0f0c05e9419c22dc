"""Which PostgreSQL role a Superset user reads the warehouse as.

Superset's connection to the warehouse is registered (by the sync) as the role
`rempart_analyst`, which reads every department. For everyone else, DB_CONNECTION_MUTATOR
(superset_config.py) swaps the role at connect time for the user's department role,
`rempart_viewer_<department>`, which PostgreSQL row-level security restricts to that
department. The same answer names the cache namespace of a user's query results
(caching/redis_state.py), so a result is only ever served to people who would read the same rows.
Anything unexpected (no user, no department role, two of them) is refused: fail closed.

Nor may Superset connect anywhere else: every connection it opens is first checked to be the
warehouse's, as registered by the sync (`check_warehouse_connection`), so no administrator can
register, test or query a connection as another role, through another password file, or to
another database of the cluster.
"""

import os
import re
from typing import Any

from sqlalchemy.engine import URL, make_url

from rempart_superset.names import (
    ANALYST_ROLE,
    SUPERSET_ANALYST_ROLE,
    SUPERSET_VIEWER_ROLE_PREFIX,
    VIEWER_ROLE_PREFIX,
)

ALL_DEPARTMENTS_ROLES = {"Admin", SUPERSET_ANALYST_ROLE}
ALL_DEPARTMENTS_WAREHOUSE_ROLE = ANALYST_ROLE
_DEPARTMENT_SLUG = re.compile(r"^[a-z0-9_]{1,40}$")


class NoWarehouseAccess(PermissionError):
    pass


def warehouse_role_for(role_names: set[str]) -> str | None:
    """The Postgres role of a Superset user with these roles; None keeps the analyst role."""
    if role_names & ALL_DEPARTMENTS_ROLES:
        return None
    departments = {
        name[len(SUPERSET_VIEWER_ROLE_PREFIX) :]
        for name in role_names
        if name.startswith(SUPERSET_VIEWER_ROLE_PREFIX)
    }
    if len(departments) != 1:
        raise NoWarehouseAccess(
            "this account has no single department role: ask an administrator for access"
        )
    (department,) = departments
    if not _DEPARTMENT_SLUG.match(department):
        raise NoWarehouseAccess(f"invalid department role {department!r}")
    return VIEWER_ROLE_PREFIX + department


def warehouse_role_of(user: object) -> str:
    """The role this user's queries run as (the analyst's when none is swapped in)."""
    if user is None:
        raise NoWarehouseAccess("no logged-in user: the warehouse is not reachable anonymously")
    role = warehouse_role_for({role.name for role in user.roles})
    return role or ALL_DEPARTMENTS_WAREHOUSE_ROLE


# What Superset may connect to: the one URL the sync registers (REMPART_WAREHOUSE_URI, set by
# Rempart when it starts Superset: the warehouse's host, port and database, the analyst role,
# no password, Superset's own password file). Any other target, user, password, password file,
# database (a SQL Lab "catalog") or engine argument is refused before a connection is opened.
ENGINE_ARGUMENTS = {"poolclass", "connect_args"}


def _registered_warehouse() -> URL:
    uri = os.environ.get("REMPART_WAREHOUSE_URI")
    if not uri:
        raise NoWarehouseAccess("REMPART_WAREHOUSE_URI is not set: no connection is allowed")
    return make_url(uri)


def check_warehouse_uri(url: URL) -> None:
    """Superset's URI validator (DB_SQLA_URI_VALIDATOR): a database registered, tested or
    connected to is the warehouse, as its analyst role, or it is refused."""
    expected = _registered_warehouse()
    differences = [
        part
        for part, (given, wanted) in {
            "driver": (url.drivername, expected.drivername),
            "host": (url.host, expected.host),
            "port": (url.port, expected.port),
            "database": (url.database, expected.database),
            "user": (url.username, ALL_DEPARTMENTS_WAREHOUSE_ROLE),
            "password": (url.password, None),
            "options": (dict(url.query), dict(expected.query)),
        }.items()
        if given != wanted
    ]
    if differences:
        raise NoWarehouseAccess(
            "Superset connects to Rempart's warehouse only, as its reader roles: this "
            f"connection's {', '.join(differences)} differ"
        )


def check_warehouse_connection(url: URL, engine_arguments: dict[str, Any]) -> None:
    """The same, at the moment of connecting (DB_CONNECTION_MUTATOR, after Superset applied a
    catalog and the database's engine parameters): no engine argument may add to the URL."""
    check_warehouse_uri(url)
    unexpected = sorted(set(engine_arguments) - ENGINE_ARGUMENTS)
    if unexpected or engine_arguments.get("connect_args"):
        raise NoWarehouseAccess(
            "Superset connects to Rempart's warehouse only, with no engine parameters: "
            f"refused {', '.join(unexpected + sorted(engine_arguments.get('connect_args') or {}))}"
        )
