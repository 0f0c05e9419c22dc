"""The departments seed: the one declaration of departments and their directory groups."""

from __future__ import annotations

import re
from pathlib import Path

from flows.seeds.reader import read_rows

DEPARTMENTS_SEED = "seeds/departments.csv"
_DEPARTMENT_SLUG = re.compile(r"^[a-z0-9_]{1,40}$")


def department_slugs(project_dir: Path) -> list[str]:
    """The departments declared in the seed; a slug names roles, so its alphabet is narrow."""
    path = project_dir / DEPARTMENTS_SEED
    slugs = [row["department_slug"].strip() for row in read_rows(path)]
    for line, slug in enumerate(slugs, start=2):
        if not _DEPARTMENT_SLUG.match(slug):
            raise ValueError(
                f"{path}, line {line}: department_slug {slug!r} must be 1 to 40 characters "
                "among a-z, 0-9 and _"
            )
    return slugs


def directory_groups(project_dir: Path) -> dict[str, str]:
    """{directory group: department} from the seed (departments without a group are left
    out: nobody from the directory becomes their viewer)."""
    path = project_dir / DEPARTMENTS_SEED
    rows = read_rows(path)
    groups: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        group = (row.get("directory_group") or "").strip()
        if not group:
            continue
        if group in groups:
            raise ValueError(f"{path}, line {line}: directory_group {group!r} is used twice")
        groups[group] = row["department_slug"].strip()
    return groups


def department_names(project_dir: Path) -> dict[str, str]:
    """{department: its name as people read it}."""
    return {
        row["department_slug"].strip(): row["department_name"]
        for row in read_rows(project_dir / DEPARTMENTS_SEED)
    }
