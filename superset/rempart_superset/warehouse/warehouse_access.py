"""Which PostgreSQL role a Superset user reads the warehouse as.

Superset's connection to the warehouse is registered (by the sync) as the role
`rempart_analyst`, which reads every department. For everyone else, DB_CONNECTION_MUTATOR
(superset_config.py) swaps the role at connect time for the user's department role,
`rempart_viewer_<department>`, which PostgreSQL row-level security restricts to that
department. The same answer names the cache namespace of a user's query results
(caching/redis_state.py), so a result is only ever served to people who would read the same rows.
Anything unexpected (no user, no department role, two of them) is refused: fail closed.
"""

import re

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
