"""A source declared by seed lines alone reaches the dashboards: after one run, a department's
viewer reads its values through Superset's chart-data API, and not another department's.

The run uses a copy of the project with the added seed lines (tests/conftest.py:
copy_project); at the end the session's deployment is rebuilt from the repository's own seeds,
so the tests after this one see the project as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from flows.runtime.settings import PROJECT_DIR
from tests.conftest import add_seed_lines, copy_project, run_project
from tests.e2e.conftest import Deployment, chart_data, dataset_ids

SEED_LINES = {
    "source_kinds.csv": [
        r"shop_visits,^shop_visits_.*\.json$,ymd,.,35,365,keep,long,,Shop visits (JSON)",
        r"depot_daily,^depot_daily_.*\.csv$,dmy,.,35,365,keep,wide,operations,Depot",
    ],
    "kpi_definitions.csv": [
        "shop_visits_count,Shop visits,shop_visits,visits,higher_is_better,sum,,drop,Visits",
        "depot_parcels,Parcels out,depot_daily,parcels,higher_is_better,sum,,drop,Parcels",
    ],
    "kpi_columns.csv": ["depot_daily,parcels out,depot_parcels"],
}


@pytest.fixture(scope="module")
def declared(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    project = copy_project(tmp_path_factory.mktemp("generic-e2e") / "project")
    for seed, lines in SEED_LINES.items():
        add_seed_lines(project, seed, lines)
    inbox = Path(deployment.env["REMPART_INBOX_DIR"])
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "shop_visits_2026-11.json").write_text(
        json.dumps(
            [
                {
                    "day": "2026-11-02",
                    "metric": "Shop visits",
                    "value": 410,
                    "department": "Ventes",
                },
                {"day": "2026-11-02", "metric": "Shop visits", "value": 35, "department": "Ops"},
            ]
        ),
        encoding="utf-8",
    )
    (inbox / "depot_daily_2026-11.csv").write_text(
        "Jour,Parcels out\n02/11/2026,1250\n03/11/2026,1310\n", encoding="utf-8"
    )
    # Superset's datasets exist already and the publication clears its caches: no sync (nor
    # the alerts it evaluates, which would mail the report tests' mailbox).
    env = {**deployment.env, "REMPART_SUPERSET_SYNC": "false"}
    try:
        done = run_project(project, "run", env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield
    finally:
        restored = run_project(PROJECT_DIR, "run", "--full-refresh", env=env)
        assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-3000:]


def _values(deployment: Deployment, username: str) -> set[tuple[str, str, str, Decimal]]:
    client = deployment.client(username)
    response = chart_data(
        client,
        dataset_ids(client)["kpi_daily_summary"],
        columns=["measured_on", "kpi_code", "department"],
        metrics=[{"label": "total", "expressionType": "SQL", "sqlExpression": "SUM(value_sum)"}],
        filters=[{"col": "kpi_code", "op": "IN", "val": ["shop_visits_count", "depot_parcels"]}],
    )
    assert response.status_code == 200, response.text
    return {
        (str(row["measured_on"]), row["kpi_code"], row["department"], Decimal(str(row["total"])))
        for row in response.json()["result"][0]["data"]
    }


def test_a_viewer_reads_a_declared_sources_values_through_the_chart_data_api(
    deployment: Deployment, declared: None
) -> None:
    sales = _values(deployment, "viewer_sales")
    operations = _values(deployment, "viewer_operations")
    assert {(kpi, department, total) for _, kpi, department, total in sales} == {
        ("shop_visits_count", "sales", Decimal("410"))
    }
    assert {(kpi, department, total) for _, kpi, department, total in operations} == {
        ("shop_visits_count", "operations", Decimal("35")),
        ("depot_parcels", "operations", Decimal("1250")),
        ("depot_parcels", "operations", Decimal("1310")),
    }
    assert _values(deployment, "viewer_support") == set()
