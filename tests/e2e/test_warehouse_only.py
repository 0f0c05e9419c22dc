"""Superset reaches the warehouse only, as its reader roles: an administrator can neither test
nor register a connection as the operator's PostgreSQL account (through the operator's
password file, or engine parameters added to the warehouse's own URI), and SQL Lab reads no
other database of the cluster (a "catalog")."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from flows.runtime.database import connection_info
from flows.superset.environment import warehouse_uri
from tests.e2e.conftest import Deployment

pytestmark = pytest.mark.e2e


def test_an_administrator_cannot_connect_superset_as_the_operator(deployment: Deployment) -> None:
    operator = connection_info(deployment.settings)
    assert operator.passfile is not None and operator.host.startswith("/")
    as_operator = (
        f"postgresql+psycopg2://{operator.user}@/{operator.dbname}?host={quote(operator.host)}"
        f"&passfile={quote(str(operator.passfile))}"
    )
    registered = warehouse_uri(deployment.settings)
    parameters = {"user": operator.user, "passfile": str(operator.passfile)}
    through_parameters = json.dumps({"engine_params": {"connect_args": parameters}})
    admin = deployment.client("admin")
    try:
        admin._ensure_csrf()
        for body in (
            {"sqlalchemy_uri": as_operator},
            {"sqlalchemy_uri": registered, "extra": through_parameters},
        ):
            body |= {"database_name": "operator", "configuration_method": "sqlalchemy_form"}
            tested = admin.http.post("/api/v1/database/test_connection/", json=body)
            assert tested.status_code != 200, (body, tested.text)
            created = admin.http.post("/api/v1/database/", json=body)
            assert created.status_code != 201, (body, created.text)
        registered_names = {db["database_name"] for db in admin.list_all("/api/v1/database/")}
        assert "operator" not in registered_names
    finally:
        admin.close()


def test_sql_lab_reads_no_other_database_of_the_cluster(deployment: Deployment) -> None:
    analyst = deployment.client("analyst")
    try:
        [warehouse] = analyst.list_all("/api/v1/database/")
        analyst._ensure_csrf()
        executed = analyst.http.post(
            "/api/v1/sqllab/execute/",
            json={
                "database_id": warehouse["id"],
                "catalog": "postgres",
                "sql": "select datname from pg_database",
                "runAsync": False,
            },
        )
        assert executed.status_code != 200 or executed.json().get("status") != "success"
        assert "template0" not in executed.text
        schemas = analyst.http.get(
            f"/api/v1/database/{warehouse['id']}/schemas/", params={"q": "(catalog:postgres)"}
        )
        assert schemas.status_code != 200, schemas.text
        own = analyst.http.get(f"/api/v1/database/{warehouse['id']}/schemas/")
        assert own.status_code == 200 and "marts" in own.json()["result"], own.text
    finally:
        analyst.close()
