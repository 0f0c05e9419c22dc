"""Superset serving many people: several gunicorn workers sharing their state through Redis,
a Celery worker and beat, all supervised.

Requests are pinned to each worker in turn through keep-alive connections, each found to be
served by a given worker in gunicorn's access log, so what one worker counted or cached is
proven to hold in the others."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from flows.names import SYNC_ACCOUNT
from flows.superset.accounts import SYNC_PERMISSIONS, SYNC_ROLE
from flows.superset.answer_cache import new_cache_generation
from flows.superset.rest_client import SupersetClient
from flows.superset.server import SupersetServer
from tests.conftest import run_rempart
from tests.e2e.conftest import Deployment, dataset_ids

pytestmark = pytest.mark.e2e

CHART_QUERY = {
    "columns": ["department", "kpi_code"],
    "metrics": [{"label": "total", "expressionType": "SQL", "sqlExpression": "sum(kpi_value)"}],
    "orderby": [["department", True], ["kpi_code", True]],
    "row_limit": 1000,
}


def _server(deployment: Deployment) -> SupersetServer:
    return SupersetServer(deployment.settings)


def _access_lines(deployment: Deployment) -> list[str]:
    return _server(deployment).access_log.read_text().splitlines()


def _pid_of(line: str) -> int:
    return int(line.split("pid=<", 1)[1].split(">", 1)[0])


def _served_by(deployment: Deployment, request_id: str) -> int:
    """The worker that answered the request of this id (gunicorn logs it once answered)."""
    deadline = time.monotonic() + 10
    while True:
        for line in reversed(_access_lines(deployment)):
            if line.endswith(f"request={request_id}"):
                return _pid_of(line)
        assert time.monotonic() < deadline, f"request {request_id} is not in the access log"
        time.sleep(0.05)


def _request_id() -> dict[str, str]:
    return {"X-Request-Id": uuid.uuid4().hex}


@contextmanager
def connections_to_every_worker(
    deployment: Deployment, address: str
) -> Iterator[dict[int, httpx.Client]]:
    """{worker pid: a client whose kept-alive connection that worker serves}, one per worker.

    Which worker accepts a new connection is the kernel's choice, and a busy machine favours
    the idlest worker for a long while: connections are opened, a moment apart, until each
    worker has accepted one (up to 150)."""
    expected = deployment.settings.superset.workers
    clients: dict[int, httpx.Client] = {}
    opened: list[httpx.Client] = []
    try:
        while len(clients) < expected and len(opened) < 150:
            if opened:
                time.sleep(0.1)
            client = httpx.Client(
                base_url=deployment.url,
                transport=httpx.HTTPTransport(local_address=address),
                timeout=120,
            )
            opened.append(client)
            headers = _request_id()
            assert client.get("/health", headers=headers).status_code == 200
            clients.setdefault(_served_by(deployment, headers["X-Request-Id"]), client)
        assert len(clients) == expected, f"only {len(clients)} of {expected} workers answered"
        yield clients
    finally:
        for client in opened:
            client.close()


def _chart_answer(
    deployment: Deployment, client: httpx.Client, token: str, dataset_id: int
) -> tuple[int, dict]:
    """One chart-data answer on this connection as this token's user, and the worker's pid."""
    headers = {"Authorization": f"Bearer {token}", **_request_id()}
    response = client.post(
        "/api/v1/chart/data",
        headers=headers,
        json={
            "datasource": {"id": dataset_id, "type": "table"},
            "queries": [CHART_QUERY],
            "result_format": "json",
            "result_type": "full",
        },
    )
    assert response.status_code == 200, response.text
    return _served_by(deployment, headers["X-Request-Id"]), response.json()["result"][0]


def test_cached_results_never_cross_departments_in_any_order_on_any_worker(
    deployment: Deployment,
) -> None:
    departments = deployment.departments
    readers = {f"viewer_{d}": {d} for d in departments[:2]}
    readers |= {"analyst": set(departments), "admin": set(departments)}
    tokens = {user: deployment.client(user).access_token for user in readers}
    dataset_id = dataset_ids(deployment.client("analyst"))["fct_kpi_values"]
    new_cache_generation(deployment.settings)  # nothing cached by earlier tests

    with connections_to_every_worker(deployment, "127.0.0.21") as workers:
        orders = [list(readers), list(reversed(readers)), sorted(readers, key=len)]
        answers: list[tuple[str, int, dict]] = []  # in the order they were given
        for order in orders:
            for connection in workers.values():
                for user in order:
                    # The worker the log names: a connection idle for 5 s while the others
                    # are served is closed, and its next request may reach another worker.
                    served_by, result = _chart_answer(
                        deployment, connection, tokens[user], dataset_id
                    )
                    answers.append((user, served_by, result))
    assert {pid for _, pid, _ in answers} == set(workers), "a worker answered nothing"

    # Admin and analyst read every department as one Postgres role: they may share results.
    first_of: dict[frozenset[str], dict] = {}
    for user, pid, result in answers:
        sees = frozenset(readers[user])
        assert {row["department"] for row in result["data"]} == sees, (user, pid)
        if sees not in first_of:
            assert not result["is_cached"], f"{user}'s first answer came from another's cache"
            first_of[sees] = result
            continue
        assert result["is_cached"], f"{user} on worker {pid}: the cache is not shared"
        assert result["data"] == first_of[sees]["data"], f"{user} on worker {pid}: other rows"
    # What a viewer sees is what their Postgres role reads.
    for department in departments[:2]:
        with deployment.connect_as(f"rempart_viewer_{department}") as conn:
            expected = conn.execute(
                "select kpi_code, sum(kpi_value) from marts.fct_kpi_values group by kpi_code"
            ).fetchall()
        data = first_of[frozenset({department})]["data"]
        assert {row["kpi_code"]: row["total"] for row in data} == pytest.approx(
            {code: float(total) for code, total in expected}
        )


def test_a_publication_retires_cached_results(deployment: Deployment) -> None:
    client = deployment.client("viewer_" + deployment.departments[0])
    dataset_id = dataset_ids(client)["kpi_daily_summary"]
    query = {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": ["kpi_code"], "metrics": ["count"], "row_limit": 100}],
    }

    def cached() -> bool:
        response = client.http.post("/api/v1/chart/data", json=query)
        assert response.status_code == 200, response.text
        return response.json()["result"][0]["is_cached"]

    cached()
    assert cached()
    output = deployment.rempart("run", "--force")
    assert "Superset's caches: generation" in output, output
    assert not cached()
    assert cached()


def test_a_permission_taken_away_is_refused_at_once_by_every_worker(
    deployment: Deployment,
) -> None:
    """Each worker keeps its answers to permission checks (permission_memo.py); a role changed
    through Superset's models, here by another process, is seen by every worker's next
    request, not when what they kept expires."""
    token = SupersetClient.log_in(
        deployment.url, SYNC_ACCOUNT, deployment.password(SYNC_ACCOUNT)
    ).access_token
    server = _server(deployment)
    without = [p for p in SYNC_PERMISSIONS if p != ("can_read", "Dashboard")]

    def dashboards_answers() -> set[int]:
        """The status every worker gives the dashboards list, each worker asked at least once.

        A worker closes a connection idle for 5 s (gunicorn's keep-alive), as the connections
        are while `apply_accounts` runs; the client then reconnects to whichever worker
        accepts. So each answer is counted for the worker the access log names, and workers
        are asked until every one has answered."""
        answers: dict[int, set[int]] = {}
        with connections_to_every_worker(deployment, "127.0.0.22") as workers:
            for _ in range(10):
                for connection in workers.values():
                    headers = {"Authorization": f"Bearer {token}", **_request_id()}
                    status = connection.get("/api/v1/dashboard/", headers=headers).status_code
                    pid = _served_by(deployment, headers["X-Request-Id"])
                    answers.setdefault(pid, set()).add(status)
                if len(answers) == len(workers):
                    return set().union(*answers.values())
        raise AssertionError(f"only workers {sorted(answers)} answered")

    assert dashboards_answers() == {200}
    assert dashboards_answers() == {200}  # now answered from what each kept
    try:
        server.apply_accounts([], {SYNC_ROLE: without})
        assert dashboards_answers() == {403}
    finally:
        server.apply_accounts([], {SYNC_ROLE: SYNC_PERMISSIONS})
    assert dashboards_answers() == {200}


def test_the_legacy_explore_json_endpoint_is_not_served(deployment: Deployment) -> None:
    client = deployment.client("viewer_" + deployment.departments[0])
    form_data = json.dumps({"datasource": "1__table", "viz_type": "table"})
    for method in ("GET", "POST"):
        response = client.http.request(
            method, "/superset/explore_json/", params={"form_data": form_data}
        )
        assert response.status_code == 410, response.text
        assert "/api/v1/chart/data" in response.json()["message"]


def _login(
    deployment: Deployment, client: httpx.Client, username: str, password: str
) -> tuple[int, int]:
    """A REST login's status, and the worker that answered it."""
    body = {"username": username, "password": password, "provider": "db"}
    headers = _request_id()
    status = client.post("/api/v1/security/login", json=body, headers=headers).status_code
    return status, _served_by(deployment, headers["X-Request-Id"])


def test_the_login_rate_limit_is_one_count_for_every_worker(deployment: Deployment) -> None:
    with connections_to_every_worker(deployment, "127.0.0.22") as workers:
        answers = [
            _login(deployment, connection, f"nobody-{n}-{pid}", "not a password")
            for n in range(3)
            for pid, connection in workers.items()
        ]
    statuses = [status for status, _ in answers]
    assert len({pid for _, pid in answers}) == deployment.settings.superset.workers
    # Five failures per 40 s from one address, whichever worker counts them.
    assert statuses[:5] == [401] * 5, answers
    assert set(statuses[5:]) == {429}, answers


def test_the_account_lockout_holds_across_workers(deployment: Deployment) -> None:
    username = f"viewer_{deployment.departments[0]}"
    attempts = deployment.settings.superset.lockout_attempts
    served = set()
    try:
        # One address per attempt, so the per-address limit never answers first.
        for attempt in range(attempts):
            with connections_to_every_worker(deployment, f"127.0.1.{attempt + 1}") as workers:
                pid = sorted(workers)[attempt % len(workers)]
                status, served_by = _login(deployment, workers[pid], username, "not the password")
                assert status == 401
                served.add(served_by)
        assert len(served) == min(attempts, deployment.settings.superset.workers)
        with connections_to_every_worker(deployment, "127.0.1.50") as workers:
            for connection in workers.values():
                body = {
                    "username": username,
                    "password": deployment.password(username),
                    "provider": "db",
                    "otp": deployment.code(username),
                }
                refused = connection.post("/api/v1/security/login", json=body)
                assert refused.status_code == 401 and "access_token" not in refused.text
    finally:
        deployment.rempart("superset", "unlock", username)
    deployment.forget_logins()
    assert deployment.client(username).access_token


def _status(deployment: Deployment) -> str:
    done = run_rempart("superset", "status", env=deployment.env, check=False)
    return done.stdout + done.stderr


def _wait_for(deployment: Deployment, *expected: str, seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    while True:
        said = _status(deployment)
        if all(text in said for text in expected):
            return said
        assert time.monotonic() < deadline, f"status never said {expected}:\n{said}"
        time.sleep(1)


def _supervised(deployment: Deployment) -> dict:
    return json.loads(_server(deployment).state_file.read_text())["services"]


def test_killed_processes_are_reported_and_replaced_while_dashboards_answer(
    deployment: Deployment,
) -> None:
    workers = deployment.settings.superset.workers
    said = _wait_for(deployment, f"{workers} of {workers} workers", "Celery beat pid")
    assert said.startswith("Superset: running (supervisor pid"), said
    viewer = "viewer_" + deployment.departments[0]
    dataset_id = dataset_ids(deployment.client(viewer))["fct_kpi_values"]

    victim = _supervised(deployment)["web"]["workers"][0]
    os.kill(victim, signal.SIGKILL)
    # The others answer (on new connections: one kept alive to the victim died with it, and a
    # browser opens another).
    assert dataset_ids(deployment.client(viewer))["fct_kpi_values"] == dataset_id
    said = _wait_for(deployment, f"worker {victim} ended", f"{workers} of {workers} workers")
    assert victim not in _supervised(deployment)["web"]["workers"]

    celery = _supervised(deployment)["worker"]["pid"]
    os.kill(celery, signal.SIGKILL)
    said = _wait_for(deployment, "killed by SIGKILL")
    assert "Celery worker" in said
    said = _wait_for(deployment, "restarted 1 time(s), last killed by SIGKILL", "pool process")
    assert _supervised(deployment)["worker"]["pid"] != celery
    assert said.startswith("Superset: running (supervisor pid"), said
    assert dataset_ids(deployment.client(viewer))["fct_kpi_values"] == dataset_id


def test_the_celery_worker_runs_superset_tasks_and_beat_schedules_them(
    deployment: Deployment,
) -> None:
    server = _server(deployment)
    metadata = sqlite3.connect(server.home / "superset.db")
    with metadata:
        metadata.execute(
            "insert into logs (action, dttm) values ('rempart-test-old-entry', "
            "datetime('now', '-400 days'))"
        )
    sent = subprocess.run(
        [
            str(server.binary("celery")),
            "--app=superset.tasks.celery_app:app",
            "call",
            "prune_logs",
            "--kwargs",
            json.dumps({"retention_period_days": 365, "max_rows_per_run": 1000}),
        ],
        env=server.environment(),
        cwd=server.home,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    task_id = sent.stdout.strip().splitlines()[-1]
    worker_log = server.home / "celery-worker.log"
    deadline = time.monotonic() + 120
    while f"Task prune_logs[{task_id}] succeeded" not in worker_log.read_text():
        assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
        time.sleep(1)
    left = metadata.execute(
        "select count(*) from logs where action = 'rempart-test-old-entry'"
    ).fetchone()[0]
    metadata.close()
    assert left == 0

    # The beat sends Superset's report scheduler every minute; the worker runs it.
    deadline = time.monotonic() + 130
    while "Task reports.scheduler[" not in worker_log.read_text():
        assert time.monotonic() < deadline, "the beat never scheduled reports.scheduler"
        time.sleep(2)


def test_metrics_serve_superset_latency_and_cache_hits(deployment: Deployment) -> None:
    from flows.superset.answer_cache import superset_figures

    client = deployment.client("viewer_" + deployment.departments[0])
    dataset_id = dataset_ids(client)["kpi_daily_summary"]
    query = {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": ["department"], "metrics": ["count"], "row_limit": 10}],
    }
    for _ in range(2):  # a miss, then a hit at least
        assert client.http.post("/api/v1/chart/data", json=query).status_code == 200
    time.sleep(3)  # each process writes its figures every second
    counters, timings = superset_figures(deployment.settings)
    scraped = deployment.rempart("metrics", "--once")

    hits, misses = counters["loaded_from_cache"], counters["loaded_from_source"]
    assert hits >= 1 and misses >= 1
    assert f'rempart_superset_chart_cache_lookups_total{{result="hit"}} {float(hits)}' in scraped
    assert f'rempart_superset_chart_cache_lookups_total{{result="miss"}} {float(misses)}' in scraped
    assert f"rempart_superset_chart_cache_hit_ratio {hits / (hits + misses)}" in scraped
    answered = int(timings["ChartDataRestApi.data.time"]["count"])
    assert (
        'rempart_superset_request_duration_seconds_count{endpoint="ChartDataRestApi.data"} '
        f"{float(answered)}"
    ) in scraped
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=scraped, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
