"""Superset connects to the warehouse as registered, or not at all: every other user, password,
password file, host, database (a SQL Lab catalog) or engine argument is refused."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy.engine import make_url

from flows.runtime.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "superset"))

from rempart_superset.warehouse.warehouse_access import (
    NoWarehouseAccess,
    check_warehouse_connection,
    check_warehouse_uri,
)

REGISTERED = (
    "postgresql+psycopg2://rempart_analyst@/rempart?host=/run/rempart"
    "&passfile=/state/secrets/superset_pgpass"
)


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMPART_WAREHOUSE_URI", REGISTERED)


def test_the_registered_warehouse_is_accepted_with_superset_s_own_arguments() -> None:
    check_warehouse_uri(make_url(REGISTERED))
    check_warehouse_connection(make_url(REGISTERED), {"poolclass": object, "connect_args": {}})


@pytest.mark.parametrize(
    "uri",
    [
        # The operator's superuser, through the operator's password file.
        "postgresql+psycopg2://rempart_admin@/rempart?host=/run/rempart"
        "&passfile=/state/run/admin.pgpass",
        "postgresql+psycopg2://rempart_analyst@/rempart?host=/run/rempart"
        "&passfile=/state/run/admin.pgpass",
        "postgresql+psycopg2://rempart_admin@/rempart?host=/run/rempart"
        "&passfile=/state/secrets/superset_pgpass",
        "postgresql+psycopg2://rempart_analyst:guess@/rempart?host=/run/rempart"
        "&passfile=/state/secrets/superset_pgpass",
        # Another database of the cluster (a SQL Lab catalog), another server.
        "postgresql+psycopg2://rempart_analyst@/postgres?host=/run/rempart"
        "&passfile=/state/secrets/superset_pgpass",
        "postgresql+psycopg2://rempart_analyst@db.example.org/rempart"
        "?passfile=/state/secrets/superset_pgpass",
        "postgresql+psycopg2://rempart_analyst@/rempart?host=/run/rempart"
        "&passfile=/state/secrets/superset_pgpass&service=admin",
        "sqlite:////state/superset/superset.db",
    ],
)
def test_any_other_connection_is_refused(uri: str) -> None:
    with pytest.raises(NoWarehouseAccess, match="warehouse only"):
        check_warehouse_uri(make_url(uri))


@pytest.mark.parametrize(
    "arguments",
    [
        {"connect_args": {"passfile": "/state/run/admin.pgpass"}},
        {"connect_args": {"user": "rempart_admin"}},
        {"connect_args": {"options": "-c role=rempart_admin"}},
        {"creator": print},
    ],
)
def test_no_engine_argument_may_change_the_target(arguments: dict) -> None:
    with pytest.raises(NoWarehouseAccess, match="no engine parameters"):
        check_warehouse_connection(make_url(REGISTERED), arguments)


def test_without_the_registered_warehouse_nothing_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMPART_WAREHOUSE_URI")
    with pytest.raises(NoWarehouseAccess, match="REMPART_WAREHOUSE_URI"):
        check_warehouse_uri(make_url(REGISTERED))
