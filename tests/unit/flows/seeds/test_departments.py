"""Directory groups come from the departments seed, one group per department at most."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.runtime.settings import PROJECT_DIR
from flows.seeds.departments import DEPARTMENTS_SEED, directory_groups


def test_the_seed_maps_each_group_to_one_department() -> None:
    assert directory_groups(PROJECT_DIR) == {
        "rempart-sales": "sales",
        "rempart-support": "support",
        "rempart-operations": "operations",
    }


def _project(tmp_path: Path, rows: str) -> Path:
    seed = tmp_path / DEPARTMENTS_SEED
    seed.parent.mkdir(parents=True)
    seed.write_text("department_slug,department_name,description,directory_group\n" + rows)
    return tmp_path


def test_a_department_without_a_group_gets_no_directory_member(tmp_path: Path) -> None:
    project = _project(tmp_path, "sales,Ventes,x,\nsupport,Support,y,helpdesk\n")
    assert directory_groups(project) == {"helpdesk": "support"}


def test_one_group_for_two_departments_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, "sales,Ventes,x,everyone\nsupport,Support,y,everyone\n")
    with pytest.raises(ValueError, match="line 3: directory_group 'everyone' is used twice"):
        directory_groups(project)
