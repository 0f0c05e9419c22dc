"""The disk is lost: the database, Superset's metadata and the archive are gone, the secrets
(exported, kept apart) and a backup on another disk remain. After `rempart backup restore`,
every table is as it was, the audit trail verifies, and each department's viewer logs in
again and sees the very chart data they saw before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.backup.backup_set import warehouse_state
from flows.runtime.database import connection_info
from tests.conftest import run_rempart
from tests.e2e.conftest import Deployment, chart_data, dataset_ids

pytestmark = pytest.mark.e2e

TOTAL = {
    "expressionType": "SIMPLE",
    "column": {"column_name": "kpi_value"},
    "aggregate": "SUM",
    "label": "total",
}


def _what_viewers_see(deployment: Deployment) -> dict[str, list[dict]]:
    seen = {}
    for department in deployment.departments:
        client = deployment.client(f"viewer_{department}")
        response = chart_data(
            client,
            dataset_ids(client)["fct_kpi_values"],
            columns=["department", "kpi_code"],
            metrics=["count", TOTAL],
            orderby=[["kpi_code", True]],
        )
        assert response.status_code == 200, response.text
        seen[department] = response.json()["result"][0]["data"]
        client.close()
    return seen


def _tables(deployment: Deployment) -> dict[str, object]:
    with connection_info(deployment.settings).connect() as conn:
        tables = warehouse_state(conn)["tables"]
    return {name: state for name, state in tables.items() if name != "audit.events"}


def test_a_restore_brings_back_what_each_viewer_saw(deployment: Deployment, tmp_path: Path) -> None:
    seen = _what_viewers_see(deployment)
    assert all(rows for rows in seen.values())
    tables = _tables(deployment)
    env = {**deployment.env, "REMPART_BACKUP_DIRS": str(tmp_path / "other-disk")}
    run_rempart("backup", "create", env=env)
    [made] = (tmp_path / "other-disk").iterdir()

    archive = Path(deployment.env["REMPART_ARCHIVE_DIR"])
    assert any(archive.rglob("*.enc"))
    run_rempart("superset", "stop", env=env)
    run_rempart("db", "stop", env=env)
    shutil.rmtree(deployment.settings.state_dir / "pgdata")
    (deployment.settings.state_dir / "superset" / "superset.db").unlink()
    shutil.rmtree(archive)

    done = run_rempart("backup", "restore", made.name, env=env, timeout=900)
    assert f"{made.name}: restored" in done.stdout, done.stdout + done.stderr
    assert _tables(deployment) == tables
    assert any(archive.rglob("*.enc"))
    assert "audit trail intact" in run_rempart("audit", "verify", env=env).stdout
    run_rempart("superset", "start", env=env, timeout=900)
    deployment.forget_logins()  # every session ended with the restore: log in anew
    assert _what_viewers_see(deployment) == seen
