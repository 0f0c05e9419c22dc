"""The deployments of prefect.yaml on a real Prefect server: started here on 127.0.0.1,
the work pool created and `prefect deploy --all` registering every deployment as an operator
would (deploy/compose.yaml runs the same commands), then one run of the nightly pipeline
picked up and completed by a process worker against this test's own installation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from flows.runtime.settings import PROJECT_DIR
from tests.conftest import free_port, start_prefect_server, stop_prefect_server
from tests.integration.conftest import Installation

pytestmark = pytest.mark.slow

PREFECT = str(Path(sys.executable).parent / "prefect")


def _prefect(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [PREFECT, *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture
def prefect_server(installation: Installation, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Prefect server of this test's own; the environment that reaches it."""
    port = free_port()
    env = {
        **os.environ,
        **installation.env,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "REMPART_PROJECT_DIR": str(PROJECT_DIR),
        "REMPART_SUPERSET_SYNC": "false",
    }
    server = start_prefect_server(port, env, tmp_path / "server.log")
    try:
        yield env
    finally:
        stop_prefect_server(server)


def test_deployments_register_and_a_process_worker_runs_the_pipeline(
    installation: Installation, prefect_server: dict[str, str], tmp_path: Path
) -> None:
    env = prefect_server
    _prefect(env, "work-pool", "create", "rempart", "--type", "process")
    _prefect(env, "--no-prompt", "deploy", "--all")

    declared = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text())["deployments"]
    api = env["PREFECT_API_URL"]
    registered = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
    assert {d["name"] for d in registered} == {d["name"] for d in declared}
    for deployment in registered:
        assert deployment["work_pool_name"] == "rempart"
        assert deployment["schedules"], deployment["name"]

    started = _prefect(env, "deployment", "run", "rempart_pipeline/nightly")
    (flow_run_id,) = set(re.findall(r"UUID: ([0-9a-f-]{36})", started))

    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "rempart", "--type", "process"],
        env=env,
        cwd=PROJECT_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            state = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()["state"]
            if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(2)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:  # seen once under a loaded full suite: not the point
            worker.kill()
            worker.wait(timeout=30)
        log.close()
    assert state["type"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-5000:]
    # The run was the pipeline's, on this installation: its build is in the warehouse.
    assert installation.query("select count(*) from intermediate.dbt_build_runs")[0][0] >= 1
    assert "pipeline_run" in installation.audit_actions()
    # Every dbt node's result is on the flow run, where Prefect's UI shows it.
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
        timeout=30,
    ).json()
    (results,) = [a for a in artifacts if a["key"] == "dbt-build-results"]
    rows = json.loads(results["data"]) if isinstance(results["data"], str) else results["data"]
    nodes = {row["node"]: row["status"] for row in rows}
    assert nodes["model.rempart.fct_kpi_values"] == "success"
    assert any(node.startswith("test.rempart.") for node in nodes)
    assert set(nodes.values()) <= {"success", "pass", "no-op"}, nodes  # no-op: exposures
