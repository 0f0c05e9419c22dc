"""Keys rotated on the running deployment: after each, a viewer logs in and reads their
department's chart data, and the audit trail still verifies. Rotating Superset's secret key
ends every session: a token issued before is refused."""

from __future__ import annotations

import pytest

from flows.superset.rest_client import SupersetClient
from tests.e2e.conftest import Deployment, chart_data, dataset_ids

pytestmark = pytest.mark.e2e


def _viewer_reads(deployment: Deployment) -> str:
    department = deployment.departments[0]
    deployment.forget_logins()
    client = deployment.client(f"viewer_{department}")
    response = chart_data(client, dataset_ids(client)["fct_kpi_values"])
    assert response.status_code == 200, response.text
    rows = response.json()["result"][0]["data"]
    assert rows and {row["department"] for row in rows} == {department}
    client.close()
    return client.access_token


def test_after_each_rotation_a_viewer_logs_in_and_reads(deployment: Deployment) -> None:
    for name in ("db-passwords", "audit_key"):
        assert "rotated" in deployment.rempart("secrets", "rotate", name), name
        _viewer_reads(deployment)

    before = _viewer_reads(deployment)
    said = deployment.rempart("secrets", "rotate", "superset_secret_key")
    assert "superset_secret_key rotated" in said and "second-factor secret(s) re-sealed" in said
    stale = SupersetClient(deployment.url, before)
    # Its signature no longer verifies: flask-jwt-extended answers 422 for that.
    assert stale.http.get("/api/v1/dataset/").status_code in (401, 422)
    stale.close()
    _viewer_reads(deployment)  # the second factor, re-sealed, still takes the viewer's code
    assert "audit trail intact" in deployment.rempart("audit", "verify")
    actions = [a for (a,) in deployment.query("select action from audit.events")]
    assert {"superset_secret_key_rotated", "key_rotated", "audit_key_rotated"} <= set(actions)
