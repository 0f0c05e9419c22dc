"""The sync's decisions that need no Superset: what a mart becomes, and what counts as a change."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flows.seeds.departments import department_slugs
from flows.superset.assets_bundle import differences
from flows.superset.desired_state import _dataset_config, dataset_uuid, marts_for_superset
from flows.superset.errors import SupersetError


def _manifest(**column_overrides: object) -> dict:
    columns = {
        "measured_on": {"name": "measured_on", "data_type": "date", "description": "Day."},
        "department": {
            "name": "department",
            "data_type": "text",
            "description": "Department.",
            "meta": {"superset": {"verbose_name": "Department"}},
        },
        "kpi_value": {"name": "kpi_value", "data_type": "numeric", "description": "Value."},
    }
    columns.update(column_overrides)
    mart = {
        "resource_type": "model",
        "schema": "marts_pending",
        "name": "fct_example",
        "alias": "fct_example",
        "description": "An example.",
        "config": {
            "meta": {
                "superset": {
                    "dataset": True,
                    "department_column": "department",
                    "metrics": [{"name": "value_total", "expression": "SUM(kpi_value)"}],
                }
            }
        },
        "columns": {k: v for k, v in columns.items() if v is not None},
    }
    unmarked = {**copy.deepcopy(mart), "name": "dim_hidden", "alias": "dim_hidden"}
    unmarked["config"] = {"meta": {}}
    staging = {**copy.deepcopy(mart), "schema": "staging", "name": "stg_x", "alias": "stg_x"}
    return {"nodes": {"a": mart, "b": unmarked, "c": staging}}


def test_only_marked_marts_become_datasets_with_their_declarations() -> None:
    (mart,) = marts_for_superset(_manifest())
    assert mart.model == "fct_example"
    assert mart.department_column == "department"
    assert mart.main_dttm_col == "measured_on"
    by_name = {column["column_name"]: column for column in mart.columns}
    assert by_name["department"]["verbose_name"] == "Department"
    assert by_name["measured_on"]["is_dttm"] is True
    assert by_name["kpi_value"]["type"] == "NUMERIC"
    assert [metric["metric_name"] for metric in mart.metrics] == ["value_total"]


def test_a_mart_without_column_types_is_refused() -> None:
    with pytest.raises(SupersetError, match="no data_type"):
        marts_for_superset(_manifest(kpi_value={"name": "kpi_value", "description": "Value."}))


def _as_exported(config: dict) -> dict:
    """What Superset's export gives back: ids added, columns in another order."""
    exported = copy.deepcopy(config)
    exported["id"] = 42
    exported["columns"] = list(reversed(exported["columns"]))
    return exported


def test_no_difference_when_only_ids_and_order_differ() -> None:
    desired = _dataset_config(marts_for_superset(_manifest())[0], "rempart")
    assert differences({"datasets/x.yaml": desired}, [_as_exported(desired)]) == []


def test_a_renamed_column_a_new_metric_or_a_missing_dataset_is_a_difference() -> None:
    current = _dataset_config(marts_for_superset(_manifest())[0], "rempart")
    renamed = _manifest(
        kpi_value=None, value={"name": "value", "data_type": "numeric", "description": "V."}
    )
    desired = _dataset_config(marts_for_superset(renamed)[0], "rempart")
    assert desired["uuid"] == current["uuid"] == dataset_uuid("fct_example")
    assert differences({"datasets/x.yaml": desired}, [_as_exported(current)]) == ["datasets/x.yaml"]
    more = copy.deepcopy(current)
    more["metrics"].append({"metric_name": "value_max", "expression": "MAX(kpi_value)"})
    assert differences({"datasets/x.yaml": more}, [current]) == ["datasets/x.yaml"]
    assert differences({"datasets/x.yaml": current}, []) == ["datasets/x.yaml"]


def test_department_slugs_must_be_safe_role_names(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    seed = tmp_path / "seeds" / "departments.csv"
    seed.write_text("department_slug,department_name\nsales,Ventes\nR&D; drop,Recherche\n")
    with pytest.raises(ValueError, match="line 3"):
        department_slugs(tmp_path)
    seed.write_text("department_slug,department_name\nsales,Ventes\nr_and_d,Recherche\n")
    assert department_slugs(tmp_path) == ["sales", "r_and_d"]
