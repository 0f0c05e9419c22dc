"""The dashboards of superset/assets/ against the dbt project they read.

A chart that names a column or metric its mart no longer has fails here, in review, rather
than as a broken chart in front of users; so does an exposure that no longer says which marts
a dashboard reads.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from flows.runtime.settings import Settings
from flows.superset.assets_bundle import load_assets
from flows.superset.desired_state import dataset_uuid, marts_for_superset
from tests.conftest import run_rempart

# Chart params that name columns, and those that name metrics (Superset's own keys).
COLUMN_LIST_PARAMS = ("groupby", "all_columns", "columns")
COLUMN_PARAMS = ("x_axis", "granularity_sqla")
METRIC_LIST_PARAMS = ("metrics",)
METRIC_PARAMS = ("metric", "secondary_metric", "timeseries_limit_metric")


@pytest.fixture(scope="module")
def manifest(rempart_settings: Settings) -> dict[str, Any]:
    run_rempart("dbt", "parse")
    target = Path(os.environ["DBT_TARGET_PATH"])
    return json.loads((target / "manifest.json").read_text(encoding="utf-8"))


def _names(value: object) -> list[str]:
    """Column or metric names in a param: plain names, or ad-hoc ones built on a column."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(json.loads(item)[0] if item.startswith("[") else item)
        elif isinstance(item, dict) and isinstance(item.get("column"), dict):
            names.append(item["column"]["column_name"])
    return names


def chart_problems(manifest: dict[str, Any], assets: dict[str, dict[str, Any]]) -> list[str]:
    marts = {dataset_uuid(mart.model): mart for mart in marts_for_superset(manifest)}
    problems = []
    for path, chart in assets.items():
        if not path.startswith("charts/"):
            continue
        mart = marts.get(chart["dataset_uuid"])
        if mart is None:
            problems.append(f"{path}: dataset {chart['dataset_uuid']} is no mart for Superset")
            continue
        columns = {column["column_name"] for column in mart.columns}
        metrics = {"count"} | {metric["metric_name"] for metric in mart.metrics}
        params = chart["params"]
        used_columns = [name for key in COLUMN_LIST_PARAMS for name in _names(params.get(key, []))]
        used_columns += [params[key] for key in COLUMN_PARAMS if isinstance(params.get(key), str)]
        used_columns += [f["subject"] for f in params.get("adhoc_filters", []) if "subject" in f]
        used_columns += [_names(order)[0] for order in params.get("order_by_cols", [])]
        for name in used_columns:
            if name not in columns:
                problems.append(f"{path}: {mart.model} has no column {name}")
        for key in (*METRIC_LIST_PARAMS, *METRIC_PARAMS):
            value = params.get(key) or []
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item not in metrics:
                    problems.append(f"{path}: {mart.model} has no metric {item}")
                elif isinstance(item, dict):
                    for name in _names(item):
                        if name not in columns:
                            problems.append(f"{path}: {mart.model} has no column {name}")
    for path, dashboard in assets.items():
        if not path.startswith("dashboards/"):
            continue
        for native_filter in dashboard["metadata"].get("native_filter_configuration", []):
            for target in native_filter.get("targets", []):
                if "column" not in target:
                    continue
                mart = marts.get(target["datasetUuid"])
                if mart is None or target["column"]["name"] not in {
                    c["column_name"] for c in mart.columns
                }:
                    problems.append(f"{path}: filter {native_filter['name']} targets a lost column")
                sort_metric = native_filter.get("sortMetric")
                if (
                    mart is not None
                    and sort_metric
                    and sort_metric not in {m["metric_name"] for m in mart.metrics}
                ):
                    name = native_filter["name"]
                    problems.append(f"{path}: filter {name} sorts by a lost metric")
    return problems


def test_every_chart_uses_columns_and_metrics_its_mart_has(manifest: dict[str, Any]) -> None:
    assert chart_problems(manifest, load_assets()) == []


def test_the_check_catches_a_renamed_column_and_a_dropped_metric(manifest: dict[str, Any]) -> None:
    broken = copy.deepcopy(manifest)
    summary = next(node for node in broken["nodes"].values() if node["name"] == "kpi_daily_summary")
    summary["columns"]["kpi_label"] = summary["columns"].pop("kpi_name")
    summary["config"]["meta"]["superset"]["metrics"] = [
        m for m in summary["config"]["meta"]["superset"]["metrics"] if m["name"] != "value_total"
    ]
    problems = chart_problems(broken, load_assets())
    assert any("has no column kpi_name" in problem for problem in problems), problems
    assert any("has no metric value_total" in problem for problem in problems), problems
    assert any("targets a lost column" in problem for problem in problems), problems


def test_exposures_name_the_marts_each_dashboard_reads(manifest: dict[str, Any]) -> None:
    assets = load_assets()
    models = {dataset_uuid(mart.model): mart.model for mart in marts_for_superset(manifest)}
    charts = {config["uuid"]: config for path, config in assets.items() if "charts/" in path}
    exposures = {exposure["name"]: exposure for exposure in manifest["exposures"].values()}
    for path, dashboard in assets.items():
        if not path.startswith("dashboards/"):
            continue
        read = {
            models[charts[node["meta"]["uuid"]]["dataset_uuid"]]
            for node in dashboard["position"].values()
            if isinstance(node, dict) and node.get("type") == "CHART"
        }
        exposure = exposures.get(dashboard["slug"].replace("-", "_"))
        assert exposure is not None, f"{path} has no exposure"
        declared = {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}
        assert declared == read, path
        assert exposure["url"].endswith(f"/superset/dashboard/{dashboard['slug']}/")
