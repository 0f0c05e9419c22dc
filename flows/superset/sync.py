"""Bring Superset in line with the dbt project and `superset/assets/`, through its REST API only.

What Superset should hold is computed from three declarations:

* `target/manifest.json`: one dataset per mart whose YAML says `meta.superset.dataset: true`,
  with the model's and columns' descriptions, verbose names (`meta.superset.verbose_name` on a
  column) and metrics (`meta.superset.metrics` on the model);
* `superset/assets/`: the charts and dashboards, in Superset's own export format;
* `seeds/departments.csv`: one `Viewer <department>` role per department, with a row-level
  security filter on every dataset that has a `meta.superset.department_column`.

Datasets and the warehouse connection get UUIDs derived from their names, so the charts in
`superset/assets/` can name them and every installation agrees. The sync exports what
Superset has, compares it with the desired bundle and imports only when they differ; the
same goes for role permissions, RLS filters and dashboard roles. A second sync changes
nothing.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from flows.names import ANALYST_ROLE as ANALYST_DB_ROLE
from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR, Settings
from flows.seeds.departments import department_slugs
from flows.superset import schedules
from flows.superset.schedules import ScheduleReport
from flows.superset.server import (
    ANALYST_ROLE,
    SYNC_USERNAME,
    UPLOADER_ROLE_PREFIX,
    VIEWER_ROLE_PREFIX,
    WAREHOUSE_NAME,
    SupersetError,
    SupersetServer,
    password_secret,
)
from flows.warehouse.provision import superset_passfile

ASSETS_DIR = PROJECT_DIR / "superset" / "assets"
MARTS_SCHEMA = "marts"
PENDING_SCHEMA = "marts_pending"
EXPORT_VERSION = "1.0.0"
_NAMESPACE = uuid.NAMESPACE_URL

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
    # (superset/rempart_superset/screenshot_downloads.py); no CSV or Excel export.
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


def warehouse_uuid() -> str:
    return str(uuid.uuid5(_NAMESPACE, "rempart:superset:database:warehouse"))


def dataset_uuid(model_name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"rempart:superset:dataset:{model_name}"))


def viewer_role(department: str) -> str:
    return VIEWER_ROLE_PREFIX + department


# -- the desired state --------------------------------------------------------------------


@dataclass
class MartDataset:
    """A mart as Superset should know it, read from dbt's manifest."""

    model: str
    description: str
    columns: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    department_column: str | None
    main_dttm_col: str | None


def _is_temporal(data_type: str) -> bool:
    return data_type.lower().startswith(("date", "timestamp"))


def marts_for_superset(manifest: dict[str, Any]) -> list[MartDataset]:
    marts = []
    # dbt builds marts in the pending schema; Superset reads their published copies, and the
    # tables the pipeline writes beside them (dbt sources in the published schema).
    candidates = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == PENDING_SCHEMA
    ] + [
        {**source, "alias": source.get("identifier") or source["name"]}
        for source in manifest.get("sources", {}).values()
        if source["schema"] == MARTS_SCHEMA
    ]
    for node in candidates:
        meta = ((node.get("config") or {}).get("meta") or node.get("meta") or {}).get("superset")
        meta = meta or {}
        if not meta.get("dataset"):
            continue
        columns = []
        for name, column in node["columns"].items():
            data_type = column.get("data_type")
            if not data_type:
                raise SupersetError(
                    f"model {node['name']}: column {name} has no data_type "
                    "(Superset marts need an enforced contract)"
                )
            column_meta = (column.get("meta") or {}).get("superset") or {}
            columns.append(
                {
                    "column_name": name,
                    "verbose_name": column_meta.get("verbose_name"),
                    "is_dttm": _is_temporal(data_type),
                    "type": data_type.upper(),
                    "description": column.get("description") or None,
                }
            )
        metrics = [
            {
                "metric_name": metric["name"],
                "verbose_name": metric.get("verbose_name"),
                "expression": metric["expression"],
                "description": metric.get("description"),
                "d3format": metric.get("d3format"),
            }
            for metric in meta.get("metrics", [])
        ]
        temporal = [c["column_name"] for c in columns if c["is_dttm"]]
        marts.append(
            MartDataset(
                model=node["alias"] or node["name"],
                description=node.get("description") or "",
                columns=columns,
                metrics=metrics,
                department_column=meta.get("department_column"),
                main_dttm_col=meta.get("main_dttm_col") or (temporal[0] if temporal else None),
            )
        )
    return sorted(marts, key=lambda mart: mart.model)


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


def _database_config(settings: Settings) -> dict[str, Any]:
    return {
        "database_name": WAREHOUSE_NAME,
        "sqlalchemy_uri": warehouse_uri(settings),
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {
            "metadata_params": {},
            "engine_params": {},
            "metadata_cache_timeout": {},
            "schemas_allowed_for_file_upload": [],
        },
        "impersonate_user": False,
        "configuration_method": "sqlalchemy_form",
        "uuid": warehouse_uuid(),
        "version": EXPORT_VERSION,
    }


def _dataset_config(mart: MartDataset, database_name: str) -> dict[str, Any]:
    columns = [
        {
            **column,
            "is_active": True,
            "advanced_data_type": None,
            "groupby": True,
            "filterable": True,
            "expression": None,
            "python_date_format": None,
            "datetime_format": None,
            "extra": None,
        }
        for column in mart.columns
    ]
    metrics = [
        {
            "metric_name": "count",
            "verbose_name": "COUNT(*)",
            "metric_type": "count",
            "expression": "COUNT(*)",
            "description": None,
            "d3format": None,
        },
        *mart.metrics,
    ]
    return {
        "table_name": mart.model,
        "main_dttm_col": mart.main_dttm_col,
        "description": mart.description.strip() or None,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": database_name,
        "schema": MARTS_SCHEMA,
        "sql": None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": dataset_uuid(mart.model),
        "metrics": [
            {"currency": None, "extra": None, "warning_text": None, "metric_type": None, **m}
            for m in metrics
        ],
        "columns": columns,
        "version": EXPORT_VERSION,
        "database_uuid": warehouse_uuid(),
    }


def load_assets(assets_dir: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """The committed charts and dashboards, by bundle path."""
    assets = {}
    for kind in ("charts", "dashboards"):
        for path in sorted((assets_dir / kind).glob("*.yaml")):
            assets[f"{kind}/{path.name}"] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return assets


def desired_bundle(settings: Settings, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    database_name = connection_info(settings).dbname
    bundle = {"databases/Rempart_warehouse.yaml": _database_config(settings)}
    for mart in marts_for_superset(manifest):
        bundle[f"datasets/Rempart_warehouse/{mart.model}.yaml"] = _dataset_config(
            mart, database_name
        )
    bundle.update(load_assets())
    known = {config["uuid"] for config in bundle.values()}
    for path, config in bundle.items():
        needed = config.get("dataset_uuid")
        if needed and needed not in known:
            raise SupersetError(
                f"superset/assets/{path} uses dataset {needed}, which no mart marked "
                "`meta.superset.dataset` produces"
            )
    return bundle


# -- comparing with what Superset has --------------------------------------------------------

# Numeric ids differ from one Superset to another; import maps them through the UUIDs.
_INSTANCE_KEYS = {
    "chartId",
    "datasetId",
    "chartsInScope",
    "id",
    "slice_id",
    "datasource",
    "query_context",
    "timestamp",
    "dashboards",
}


# Superset's assets export still writes some keys under their former names.
_KEY_ALIASES = {
    "allow_csv_upload": "allow_file_upload",
    "schemas_allowed_for_csv_upload": "schemas_allowed_for_file_upload",
}


def normalised(value: Any) -> Any:
    """An asset without the instance-specific ids, columns and metrics in name order."""
    if isinstance(value, dict):
        result = {
            _KEY_ALIASES.get(k, k): normalised(v)
            for k, v in value.items()
            if k not in _INSTANCE_KEYS
        }
        for key, name in (("columns", "column_name"), ("metrics", "metric_name")):
            items = result.get(key)
            if isinstance(items, list) and all(isinstance(i, dict) and name in i for i in items):
                result[key] = sorted(items, key=lambda item: item[name])
        return result
    if isinstance(value, list):
        return [normalised(item) for item in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return normalised(json.loads(value))
        except ValueError:
            return value
    return value


def differences(desired: dict[str, dict[str, Any]], current: Iterable[dict[str, Any]]) -> list[str]:
    """Paths of desired assets Superset lacks or holds differently (only desired keys count)."""
    by_uuid = {config.get("uuid"): config for config in current}
    changed = []
    for path, config in desired.items():
        have = by_uuid.get(config["uuid"])
        if have is None:
            changed.append(path)
            continue
        wanted = normalised(config)
        held = {key: value for key, value in normalised(have).items() if key in wanted}
        # A chart imported before Superset built query contexts for imported charts has none:
        # imported again, it gets one (superset/rempart_superset/chart_query_context.py).
        if wanted != held or (path.startswith("charts/") and not have.get("query_context")):
            changed.append(path)
    return changed


def bundle_zip(bundle: dict[str, dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "rempart/metadata.yaml",
            yaml.safe_dump(
                {
                    "version": EXPORT_VERSION,
                    "type": "assets",
                    "timestamp": datetime.now(UTC).isoformat(),
                }
            ),
        )
        for path, config in bundle.items():
            archive.writestr(f"rempart/{path}", yaml.safe_dump(config, sort_keys=False))
    return buffer.getvalue()


def unzip_export(content: bytes) -> dict[str, dict[str, Any]]:
    """An export zip as {path without the top folder: config}."""
    result = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.endswith(".yaml") and "/" in name:
                result[name.split("/", 1)[1]] = yaml.safe_load(archive.read(name))
    return result


# -- the REST client --------------------------------------------------------------------------


class SupersetLoginError(SupersetError):
    def __init__(self, username: str, status_code: int) -> None:
        super().__init__(f"Superset refused the login of {username} ({status_code})")
        self.status_code = status_code


class SupersetClient:
    """Superset's REST API as one user: JWT login, then a CSRF token for every write."""

    def __init__(self, base_url: str, access_token: str) -> None:
        self.access_token = access_token
        self.http = httpx.Client(
            base_url=base_url,
            timeout=120,
            headers={"Authorization": f"Bearer {access_token}", "Referer": base_url},
        )
        self._csrf_ready = False

    @classmethod
    def log_in(
        cls, base_url: str, username: str, password: str, otp: str | None = None
    ) -> SupersetClient:
        """Log in through the REST API; `otp` is the second factor's code, for an account
        that has one."""
        credentials = {"username": username, "password": password, "provider": "db"}
        if otp is not None:
            credentials["otp"] = otp
        with httpx.Client(base_url=base_url, timeout=120) as http:
            response = http.post("/api/v1/security/login", json=credentials)
        if response.status_code != 200:
            raise SupersetLoginError(username, response.status_code)
        return cls(base_url, response.json()["access_token"])

    def _ensure_csrf(self) -> None:
        """Writes need a CSRF token tied to the session; reading one needs a role that may."""
        if not self._csrf_ready:
            self._csrf_ready = True
            token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
            self.http.headers["X-CSRFToken"] = token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET":
            self._ensure_csrf()
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise SupersetError(
                f"Superset answered {response.status_code} to {method} {path}: "
                f"{response.text[:500]}"
            )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def list_all(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint, page by page."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            rison = ",".join(
                [f"page:{page}", "page_size:100"] + [f"{k}:{v}" for k, v in query.items()]
            )
            body = self.request("GET", path, params={"q": f"({rison})"})
            rows.extend(body["result"])
            if len(rows) >= body.get("count", 0) or not body["result"]:
                return rows
            page += 1

    def close(self) -> None:
        self.http.close()


# -- the sync -----------------------------------------------------------------------------


@dataclass
class SyncReport:
    imported: list[str] = field(default_factory=list)
    roles_changed: list[str] = field(default_factory=list)
    rls_changed: list[str] = field(default_factory=list)
    dashboards_changed: list[str] = field(default_factory=list)
    schedules: ScheduleReport = field(default_factory=ScheduleReport)
    datasets: int = 0
    dashboards: int = 0

    @property
    def changes(self) -> int:
        schedules = self.schedules
        return sum(
            map(
                len,
                (
                    self.imported,
                    self.roles_changed,
                    self.rls_changed,
                    self.dashboards_changed,
                    schedules.created,
                    schedules.updated,
                    schedules.removed,
                ),
            )
        )

    def summary(self) -> str:
        if not self.changes:
            return (
                f"in sync, nothing changed ({self.datasets} datasets, {self.dashboards} dashboards)"
            )
        parts = []
        for label, items in (
            ("assets imported", self.imported),
            ("roles updated", self.roles_changed),
            ("RLS filters updated", self.rls_changed),
            ("dashboard access updated", self.dashboards_changed),
        ):
            if items:
                parts.append(f"{label}: {len(items)}")
        if self.schedules.created or self.schedules.updated or self.schedules.removed:
            parts.append(f"alerts and reports {self.schedules.summary()}")
        return "; ".join(parts) + f" ({self.datasets} datasets, {self.dashboards} dashboards)"


def _export_assets(client: SupersetClient) -> dict[str, dict[str, Any]]:
    return unzip_export(client.request("GET", "/api/v1/assets/export/"))


def _sync_assets(
    client: SupersetClient, bundle: dict[str, dict[str, Any]], report: SyncReport
) -> None:
    changed = differences(bundle, _export_assets(client).values())
    if not changed:
        return
    client.request(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("rempart.zip", bundle_zip(bundle), "application/zip")},
        data={"passwords": "{}"},
    )
    still = differences(bundle, _export_assets(client).values())
    if still:
        raise SupersetError(f"after import, Superset still differs on: {', '.join(still)}")
    report.imported = changed


def _ids_by_uuid(client: SupersetClient, resource: str, uuids: set[str]) -> dict[str, int]:
    found = {}
    for row in client.list_all(f"/api/v1/{resource}/", columns="!(id,uuid)"):
        if row.get("uuid") in uuids:
            found[row["uuid"]] = row["id"]
    return found


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


def _sync_roles(
    client: SupersetClient, departments: list[str], catalog: str, report: SyncReport
) -> None:
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
    wanted = {ANALYST_ROLE: ids({*gamma, *sql_lab, marts, warehouse_access})}
    viewer = ids({*(name for name in gamma if _viewer_permission(*name)), marts})
    for department in departments:
        wanted[viewer_role(department)] = viewer
        # A marker for the upload page, granting nothing in Superset; here so that an
        # administrator finds it to give (flows/uploads/service.py).
        wanted[UPLOADER_ROLE_PREFIX + department] = set()
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
            report.roles_changed.append(role)


def _sync_rls(
    client: SupersetClient,
    departments: list[str],
    marts: list[MartDataset],
    dataset_ids: dict[str, int],
    report: SyncReport,
) -> None:
    """One Regular filter per department: its viewer role, every dataset with a department."""
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
            report.rls_changed.append(name)
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
            report.rls_changed.append(name)


def _sync_dashboard_roles(
    client: SupersetClient,
    bundle: dict[str, dict[str, Any]],
    departments: list[str],
    report: SyncReport,
) -> None:
    """Every dashboard is shown to the analyst and to every department viewer (DASHBOARD_RBAC)."""
    roles = _role_ids(client)
    wanted = sorted(roles[name] for name in [ANALYST_ROLE, *map(viewer_role, departments)])
    dashboards = {c["uuid"]: c for p, c in bundle.items() if p.startswith("dashboards/")}
    for dashboard_uuid, dashboard_id in _ids_by_uuid(client, "dashboard", set(dashboards)).items():
        held = client.request("GET", f"/api/v1/dashboard/{dashboard_id}")["result"]
        if sorted(role["id"] for role in held.get("roles", [])) != wanted or not held.get(
            "published"
        ):
            client.request(
                "PUT",
                f"/api/v1/dashboard/{dashboard_id}",
                json={"roles": wanted, "published": True},
            )
            report.dashboards_changed.append(dashboards[dashboard_uuid]["dashboard_title"])


def sync_client(settings: Settings, server: SupersetServer) -> SupersetClient:
    """The pipeline's own account, logged in from this machine (see the README)."""
    password = SecretStore(settings.secrets_dir).get(password_secret(SYNC_USERNAME))
    try:
        return SupersetClient.log_in(server.url, SYNC_USERNAME, password)
    except SupersetLoginError as error:
        if error.status_code == 429:
            raise SupersetError(
                f"{error}: too many failed logins from this machine in the last minute; "
                "the sync can try again in a minute"
            ) from error
        raise SupersetError(
            f"{error}: the pipeline's service account {SYNC_USERNAME} is missing, disabled or "
            "has another password than the secrets store's. `rempart superset stop` then "
            "`rempart superset start` re-creates it."
        ) from error


# Keys of an exported chart that name things of one Superset instance only.
_CHART_PARAMS_OF_INSTANCE = ("datasource", "slice_id", "dashboards")


def export_assets(settings: Settings, assets_dir: Path = ASSETS_DIR) -> list[Path]:
    """Write Rempart's dashboards and their charts, as Superset exports them, to the assets.

    The way to change a dashboard: edit it in Superset, run `rempart superset export`, review
    the YAML diff in a pull request. Files keep their names; new ones are named after the title.
    """
    server = SupersetServer(settings)
    if not server.status().running:
        raise SupersetError("Superset is not running: `rempart superset start` first")
    client = sync_client(settings, server)
    try:
        committed = {config["uuid"]: path for path, config in load_assets(assets_dir).items()}
        dashboards = [
            row
            for row in client.list_all("/api/v1/dashboard/", columns="!(id,uuid,dashboard_title)")
            if row["uuid"] in committed
        ]
        if not dashboards:
            raise SupersetError("none of the dashboards of superset/assets is in Superset")
        ids = ",".join(str(row["id"]) for row in dashboards)
        exported = unzip_export(
            client.request("GET", "/api/v1/dashboard/export/", params={"q": f"!({ids})"})
        )
    finally:
        client.close()
    written = []
    for path, config in sorted(exported.items()):
        kind = path.split("/", 1)[0]
        if kind not in ("charts", "dashboards"):
            continue
        if kind == "charts":
            for key in _CHART_PARAMS_OF_INSTANCE:
                config.get("params", {}).pop(key, None)
            config["query_context"] = None
        title = config.get("slice_name") or config.get("dashboard_title") or config["uuid"]
        name = committed.get(config["uuid"]) or f"{kind}/{_file_stem(title)}.yaml"
        target = assets_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=True, allow_unicode=True), "utf-8")
        written.append(target)
    return written


def _file_stem(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_")


def sync(
    settings: Settings, progress: Callable[[str], None] = print, evaluate_alerts: bool = False
) -> SyncReport:
    """Make Superset match the project; start it first if it is not running. After a
    publication (`evaluate_alerts`), the alerts that watch new data are queued too."""
    manifest_path = settings.dbt_target_dir / "manifest.json"
    if not manifest_path.exists():
        raise SupersetError(f"{manifest_path} is missing: run `rempart run` or `rempart dbt build`")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    server = SupersetServer(settings)
    progress(f"Superset: {server.start(progress)}")
    bundle = desired_bundle(settings, manifest)
    marts = marts_for_superset(manifest)
    departments = department_slugs(settings.project_dir)
    client = sync_client(settings, server)
    try:
        report = SyncReport(
            datasets=len(marts), dashboards=sum(p.startswith("dashboards/") for p in bundle)
        )
        _sync_assets(client, bundle, report)
        dataset_ids = _ids_by_uuid(client, "dataset", {dataset_uuid(m.model) for m in marts})
        _sync_roles(client, departments, connection_info(settings).dbname, report)
        _sync_rls(client, departments, marts, dataset_ids, report)
        _sync_dashboard_roles(client, bundle, departments, report)
    finally:
        client.close()
    report.schedules = schedules.apply(settings, evaluate=evaluate_alerts)
    progress(f"Superset sync: {report.summary()}")
    return report
