"""Who sees what in Superset: the roles, the row-level security filters, dashboard access.

From `seeds/departments.csv`: one `Viewer <department>` role per department, holding the
read-only part of Superset's Gamma role, with a Regular row-level security filter on every
dataset that has a `meta.superset.department_column`; an `Uploader <department>` marker role
for the upload page; the analyst role, all of Gamma plus SQL Lab. Every dashboard is shown to
the analyst and to every department's viewer. Each step reads what Superset holds and writes
only what differs, and returns the names of what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flows.names import (
    SUPERSET_ANALYST_ROLE,
    SUPERSET_UPLOADER_ROLE_PREFIX,
    SUPERSET_VIEWER_ROLE_PREFIX,
)
from flows.superset.desired_state import MARTS_SCHEMA, MartDataset, dataset_uuid
from flows.superset.errors import SupersetError
from flows.superset.rest_client import SupersetClient, ids_by_uuid
from flows.superset.server import WAREHOUSE_NAME

# Viewers get the read-only part of Superset's Gamma role; analysts all of Gamma plus SQL Lab
# (read-only: the connection has DML off and its Postgres role can only SELECT) and exports.
VIEWER_PERMISSIONS_FROM_GAMMA = {
    "can_read": None,  # None: on every view Gamma has it on, except those below
    "can_get": None,
    "can_list": None,
    "can_show": None,
    "can_dashboard": None,
    "can_slice": None,
    "can_explore": None,
    "can_explore_json": None,
    "can_log": None,
    "can_query": None,
    "can_query_form_data": None,
    "can_time_range": None,
    "can_drill": None,
    "can_get_drill_info": None,
    "can_view_chart_as_table": None,
    "can_view_query": None,
    "can_dashboard_permalink": None,
    "can_recent_activity": None,
    "can_fetch_datasource_metadata": None,
    "can_external_metadata": None,
    "can_external_metadata_by_name": None,
    "can_language_pack": None,
    "can_userinfo": None,
    "resetmypassword": None,
    "can_this_form_get": None,
    "can_this_form_post": None,
    # The dashboard's PDF and PNG downloads, taken and watermarked on the server
    # (rempart_superset/exports/screenshot_downloads.py); no CSV or Excel export.
    "can_cache_dashboard_screenshot": {"Dashboard"},
    # Dashboard filters and permalinks keep their state through these.
    "can_write": {
        "DashboardFilterStateRestApi",
        "DashboardPermalinkRestApi",
        "ExploreFormDataRestApi",
        "ExplorePermalinkRestApi",
        "CurrentUserRestApi",
    },
    "menu_access": {"Home", "Dashboards", "Charts"},
}
VIEWER_EXCLUDED_VIEWS = {
    "RowLevelSecurity",
    "security",
    "SecurityRestApi",
    "user",
    "UserRegistrationsRestAPI",
    "Database",
    "SavedQuery",
}


def viewer_role(department: str) -> str:
    return SUPERSET_VIEWER_ROLE_PREFIX + department


def _role_ids(client: SupersetClient) -> dict[str, int]:
    return {row["name"]: row["id"] for row in client.list_all("/api/v1/security/roles/")}


def _role_permission_ids(client: SupersetClient, role_id: int) -> set[int]:
    body = client.request("GET", f"/api/v1/security/roles/{role_id}/permissions/")
    return {row["id"] for row in body["result"]}


def _viewer_permission(permission: str, view: str) -> bool:
    if view in VIEWER_EXCLUDED_VIEWS:
        return False
    if permission not in VIEWER_PERMISSIONS_FROM_GAMMA:
        return False
    views = VIEWER_PERMISSIONS_FROM_GAMMA[permission]
    return views is None or view in views


def sync_roles(client: SupersetClient, departments: list[str], catalog: str) -> list[str]:
    """The analyst's, each department's viewer and uploader roles, with their permissions;
    the roles changed."""
    changed = []
    roles = _role_ids(client)
    permissions = {
        (row["permission"]["name"], row["view_menu"]["name"]): row["id"]
        for row in client.list_all("/api/v1/security/permissions-resources/")
    }

    def ids(names: Iterable[tuple[str, str]]) -> set[int]:
        missing = [name for name in names if name not in permissions]
        if missing:
            raise SupersetError(f"Superset has no permission {missing[0]}")
        return {permissions[name] for name in names}

    by_id = {pid: name for name, pid in permissions.items()}
    gamma = [by_id[pid] for pid in _role_permission_ids(client, roles["Gamma"])]
    sql_lab = [by_id[pid] for pid in _role_permission_ids(client, roles["sql_lab"])]
    database = f"[{WAREHOUSE_NAME}]"
    marts = ("schema_access", f"{database}.[{catalog}].[{MARTS_SCHEMA}]")
    warehouse_access = next(
        (
            name
            for name in permissions
            if name[0] == "database_access" and name[1].startswith(database)
        ),
        None,
    )
    if warehouse_access is None:
        raise SupersetError(f"Superset has no database_access permission on {WAREHOUSE_NAME}")
    wanted = {SUPERSET_ANALYST_ROLE: ids({*gamma, *sql_lab, marts, warehouse_access})}
    viewer = ids({*(name for name in gamma if _viewer_permission(*name)), marts})
    for department in departments:
        wanted[viewer_role(department)] = viewer
        # A marker for the upload page, granting nothing in Superset; here so that an
        # administrator finds it to give (flows/uploads/request_checks.py).
        wanted[SUPERSET_UPLOADER_ROLE_PREFIX + department] = set()
    for role, permission_ids in wanted.items():
        role_id = roles.get(role)
        if role_id is None:
            role_id = client.request("POST", "/api/v1/security/roles/", json={"name": role})["id"]
        if _role_permission_ids(client, role_id) != permission_ids:
            client.request(
                "POST",
                f"/api/v1/security/roles/{role_id}/permissions",
                json={"permission_view_menu_ids": sorted(permission_ids)},
            )
            changed.append(role)
    return changed


def sync_rls(
    client: SupersetClient,
    departments: list[str],
    marts: list[MartDataset],
    dataset_ids: dict[str, int],
) -> list[str]:
    """One Regular filter per department: its viewer role, every dataset with a department;
    the filters changed."""
    changed = []
    roles = _role_ids(client)
    existing = {row["name"]: row for row in client.list_all("/api/v1/rowlevelsecurity/")}
    for department in departments:
        name = f"Department {department}"
        tables = sorted(
            dataset_ids[dataset_uuid(mart.model)] for mart in marts if mart.department_column
        )
        clauses = {mart.department_column for mart in marts if mart.department_column}
        if len(clauses) != 1:
            raise SupersetError("every mart must name its department column the same way")
        body = {
            "name": name,
            "filter_type": "Regular",
            "tables": tables,
            "roles": [roles[viewer_role(department)]],
            "group_key": "department",
            "clause": f"{clauses.pop()} = '{department}'",
            "description": f"Viewers of {department} see its rows only (seeds/departments.csv)",
        }
        have = existing.get(name)
        if have is None:
            client.request("POST", "/api/v1/rowlevelsecurity/", json=body)
            changed.append(name)
            continue
        held = client.request("GET", f"/api/v1/rowlevelsecurity/{have['id']}")["result"]
        current = {
            **{
                key: held.get(key)
                for key in ("name", "filter_type", "group_key", "clause", "description")
            },
            "tables": sorted(table["id"] for table in held.get("tables", [])),
            "roles": sorted(role["id"] for role in held.get("roles", [])),
        }
        if current != body:
            client.request("PUT", f"/api/v1/rowlevelsecurity/{have['id']}", json=body)
            changed.append(name)
    return changed


def sync_dashboard_roles(
    client: SupersetClient, bundle: dict[str, dict[str, Any]], departments: list[str]
) -> list[str]:
    """Every dashboard is shown to the analyst and to every department viewer (DASHBOARD_RBAC);
    the titles of the dashboards changed."""
    changed = []
    roles = _role_ids(client)
    wanted = sorted(roles[name] for name in [SUPERSET_ANALYST_ROLE, *map(viewer_role, departments)])
    dashboards = {c["uuid"]: c for p, c in bundle.items() if p.startswith("dashboards/")}
    for dashboard_uuid, dashboard_id in ids_by_uuid(client, "dashboard", set(dashboards)).items():
        held = client.request("GET", f"/api/v1/dashboard/{dashboard_id}")["result"]
        if sorted(role["id"] for role in held.get("roles", [])) != wanted or not held.get(
            "published"
        ):
            client.request(
                "PUT",
                f"/api/v1/dashboard/{dashboard_id}",
                json={"roles": wanted, "published": True},
            )
            changed.append(dashboards[dashboard_uuid]["dashboard_title"])
    return changed
