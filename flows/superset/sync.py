"""Bring Superset in line with the dbt project and `superset/assets/`, through its REST API only.

The two entry points: `sync` (`rempart superset sync`, and the pipeline after a build) and
`export_assets` (`rempart superset export`). What they use, one module each:

* `desired_state`: what Superset should hold, from `target/manifest.json` and
  `superset/assets/`: the warehouse connection, one dataset per mart, the charts and
  dashboards;
* `assets_bundle`: Superset's export format, the comparison of a bundle with what Superset
  exports, its import, and the export written back to `superset/assets/`;
* `access`: from `seeds/departments.csv`, the roles, row-level security filters and
  dashboard access;
* `rest_client`: Superset's REST API, as the pipeline's own account;
* `schedules`: the alerts and reports.

The sync exports what Superset has, compares it with the desired bundle and imports only when
they differ; the same goes for role permissions, RLS filters and dashboard roles. A second
sync changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flows.runtime.database import connection_info
from flows.runtime.settings import Settings
from flows.seeds.departments import department_slugs
from flows.superset import schedules
from flows.superset.access import sync_dashboard_roles, sync_rls, sync_roles
from flows.superset.assets_bundle import (
    ASSETS_DIR,
    export_dashboards,
    import_bundle,
    load_assets,
    write_assets,
)
from flows.superset.desired_state import dataset_uuid, desired_bundle, marts_for_superset
from flows.superset.errors import SupersetError
from flows.superset.rest_client import ids_by_uuid, sync_client
from flows.superset.schedules import ScheduleReport
from flows.superset.server import SupersetServer


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
        exported = export_dashboards(client, committed)
    finally:
        client.close()
    return write_assets(exported, committed, assets_dir)


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
        report.imported = import_bundle(client, bundle)
        dataset_ids = ids_by_uuid(client, "dataset", {dataset_uuid(m.model) for m in marts})
        report.roles_changed = sync_roles(client, departments, connection_info(settings).dbname)
        report.rls_changed = sync_rls(client, departments, marts, dataset_ids)
        report.dashboards_changed = sync_dashboard_roles(client, bundle, departments)
    finally:
        client.close()
    report.schedules = schedules.apply(settings, evaluate=evaluate_alerts)
    progress(f"Superset sync: {report.summary()}")
    return report
