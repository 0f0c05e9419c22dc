"""The dbt seeds as the Python side reads them: reference data, one CSV a seed."""

from __future__ import annotations

import csv
from pathlib import Path


def seed_path(project_dir: Path, name: str) -> Path:
    return project_dir / "seeds" / f"{name}.csv"


def read_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a seed file, as {column: text}: the one way the Python side reads one."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_seed(project_dir: Path, name: str) -> list[dict[str, str]]:
    """Every row of seeds/<name>.csv, as {column: text}."""
    return read_rows(seed_path(project_dir, name))
