"""Seeds whose columns changed since dbt last loaded them.

`dbt seed` empties a seed's table and inserts the CSV's rows: it never adds, drops or renames
a column. A seed that gained a column (a new `main_kpi_code` in departments.csv, say) then
fails on every installation that loaded it before, with "column ... does not exist", until
someone thinks of `--full-refresh`. `rempart run` reloads such seeds in full first: dbt drops
their table (and the views that read it, which the build that follows recreates) and creates
it with the new columns.
"""

from __future__ import annotations

import csv
from pathlib import Path

from flows.names import TRANSFORMER_ROLE
from flows.runtime.database import role_connection
from flows.runtime.settings import Settings

SEEDS_SCHEMA = "seeds"  # dbt_project.yml: seeds: +schema: seeds


def csv_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    return [column.strip().lower() for column in header]


def reshaped_seeds(settings: Settings) -> dict[str, tuple[list[str], list[str]]]:
    """{seed: (columns of its CSV, columns of its table)} for each seed loaded before whose
    columns differ; a seed never loaded is not listed (dbt creates it)."""
    wanted = {
        path.stem: csv_columns(path)
        for path in sorted((settings.project_dir / "seeds").glob("*.csv"))
    }
    with role_connection(settings, TRANSFORMER_ROLE).connect(
        application_name="rempart-run"
    ) as conn:
        rows = conn.execute(
            "select table_name, array_agg(column_name::text order by ordinal_position) "
            "from information_schema.columns where table_schema = %s group by table_name",
            (SEEDS_SCHEMA,),
        ).fetchall()
    loaded = {name: list(columns) for name, columns in rows}
    return {
        name: (columns, loaded[name])
        for name, columns in wanted.items()
        if name in loaded and sorted(columns) != sorted(loaded[name])
    }
