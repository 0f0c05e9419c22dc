"""The names the pipeline, dbt and Superset share are the same on every side.

Each side declares them once: `flows/names.py`, the vars of `dbt_project.yml`,
`superset/rempart_superset/names.py` (loaded from its file: Superset's venv is another).
"""

from __future__ import annotations

import ast
import importlib.util
from types import ModuleType

import pytest
import yaml

from flows import names
from flows.runtime.settings import PROJECT_DIR

PLUGIN_NAMES = PROJECT_DIR / "superset" / "rempart_superset" / "names.py"


def plugin_names() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rempart_superset_names", PLUGIN_NAMES)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared(module: ModuleType) -> dict[str, str]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }


def test_the_superset_plugin_names_what_the_pipeline_names() -> None:
    plugin = shared(plugin_names())
    pipeline = shared(names)
    assert plugin, "the plugin declares no names"
    differing = {
        name: (value, pipeline.get(name))
        for name, value in plugin.items()
        if pipeline.get(name) != value
    }
    assert not differing, f"plugin value, pipeline value: {differing}"


def test_the_plugin_module_imports_nothing() -> None:
    """Superset's process loads it early, and nothing it imports may pull in `flows`."""
    tree = ast.parse(PLUGIN_NAMES.read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


@pytest.mark.parametrize(
    ("var", "name"),
    [
        ("reader_group", "READER_GROUP"),
        ("analyst_role", "ANALYST_ROLE"),
        ("viewer_role_prefix", "VIEWER_ROLE_PREFIX"),
    ],
)
def test_dbt_vars_name_the_pipeline_roles(var: str, name: str) -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"][var] == getattr(names, name)


def test_the_marts_grant_names_the_analyst_role() -> None:
    """dbt does not render vars in `+grants`: the role is written there as it is."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    marts = project["models"]["rempart"]["marts"]
    assert marts["+grants"]["select"] == [names.ANALYST_ROLE]
    assert marts["+schema"] == names.PENDING_MARTS_SCHEMA
