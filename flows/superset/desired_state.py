"""What Superset should hold, computed from the dbt project and `superset/assets/`.

* `target/manifest.json`: one dataset per mart whose YAML says `meta.superset.dataset: true`,
  with the model's and columns' descriptions, verbose names (`meta.superset.verbose_name` on a
  column) and metrics (`meta.superset.metrics` on the model), and its department column for
  row-level security (`meta.superset.department_column`, read by `access`);
* the warehouse connection, as the analyst role whose password stays in Superset's pgpass file;
* `superset/assets/`: the charts and dashboards, in Superset's own export format
  (`assets_bundle`).

Datasets and the warehouse connection get UUIDs derived from their names, so the charts in
`superset/assets/` can name them and every installation agrees. Nothing here talks to
Superset: the result is a bundle, {path in an export: config}, that the sync compares with
what Superset exports.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flows.runtime.database import connection_info
from flows.runtime.settings import Settings
from flows.superset.assets_bundle import EXPORT_VERSION, load_assets
from flows.superset.environment import warehouse_uri
from flows.superset.errors import SupersetError
from flows.superset.server import WAREHOUSE_NAME

MARTS_SCHEMA = "marts"
PENDING_SCHEMA = "marts_pending"
_NAMESPACE = uuid.NAMESPACE_URL


def warehouse_uuid() -> str:
    return str(uuid.uuid5(_NAMESPACE, "rempart:superset:database:warehouse"))


def dataset_uuid(model_name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"rempart:superset:dataset:{model_name}"))


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
