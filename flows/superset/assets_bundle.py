"""The charts and dashboards as code: `superset/assets/`, in Superset's own export format.

Superset imports and exports them as a zip bundle of YAML files, {path: config}. Here: reading
the committed assets, comparing a desired bundle with what Superset exports (without the ids
of one instance), importing the bundle when they differ, and writing what Superset exports
back to `superset/assets/` (`rempart superset export`).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from flows.runtime.settings import PROJECT_DIR
from flows.superset.errors import SupersetError
from flows.superset.rest_client import SupersetClient

ASSETS_DIR = PROJECT_DIR / "superset" / "assets"
EXPORT_VERSION = "1.0.0"


def load_assets(assets_dir: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """The committed charts and dashboards, by bundle path."""
    assets = {}
    for kind in ("charts", "dashboards"):
        for path in sorted((assets_dir / kind).glob("*.yaml")):
            assets[f"{kind}/{path.name}"] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return assets


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
        # imported again, it gets one (superset/rempart_superset/caching/chart_query_context.py).
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


# -- importing and exporting through the REST API --------------------------------------------


def exported_assets(client: SupersetClient) -> dict[str, dict[str, Any]]:
    """Everything Superset holds, as its assets export gives it."""
    return unzip_export(client.request("GET", "/api/v1/assets/export/"))


def import_bundle(client: SupersetClient, bundle: dict[str, dict[str, Any]]) -> list[str]:
    """Import the bundle if Superset differs from it; the paths that differed."""
    changed = differences(bundle, exported_assets(client).values())
    if not changed:
        return []
    client.request(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("rempart.zip", bundle_zip(bundle), "application/zip")},
        data={"passwords": "{}"},
    )
    still = differences(bundle, exported_assets(client).values())
    if still:
        raise SupersetError(f"after import, Superset still differs on: {', '.join(still)}")
    return changed


# Keys of an exported chart that name things of one Superset instance only.
_CHART_PARAMS_OF_INSTANCE = ("datasource", "slice_id", "dashboards")


def export_dashboards(client: SupersetClient, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The export of the dashboards of these UUIDs that Superset has, with their charts."""
    wanted = set(uuids)
    dashboards = [
        row
        for row in client.list_all("/api/v1/dashboard/", columns="!(id,uuid,dashboard_title)")
        if row["uuid"] in wanted
    ]
    if not dashboards:
        raise SupersetError("none of the dashboards of superset/assets is in Superset")
    ids = ",".join(str(row["id"]) for row in dashboards)
    return unzip_export(
        client.request("GET", "/api/v1/dashboard/export/", params={"q": f"!({ids})"})
    )


def write_assets(
    exported: dict[str, dict[str, Any]], committed: dict[str, str], assets_dir: Path
) -> list[Path]:
    """The charts and dashboards of an export, as files of `assets_dir` without the keys of
    one instance. `committed` maps the UUIDs already there to their paths: files keep their
    names; new ones are named after the title."""
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
