"""One real deployment for the dashboard tests: its own PostgreSQL, the demo files landed and
built by the real flow, which also starts Superset (on a free port) and syncs it.

The browser is the system Chromium (Debian's `chromium` package, installed by `.ci/run`),
driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest

from flows.runtime.database import connection_info, temporary_server
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR, Settings, load_settings
from flows.seeds.departments import department_slugs
from flows.superset.accounts import password_secret, totp_secret
from flows.superset.assets_bundle import load_assets
from flows.superset.rest_client import SupersetClient
from flows.superset.server import SupersetServer
from flows.warehouse.provision import superset_passfile
from tests.conftest import free_port, isolated_environment, run_rempart
from tests.e2e.mailbox import Mailbox

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use up 127.0.0.1's login rate limit go last, so no other test's login
    meets it (the limit is per address, and the browser can only come from 127.0.0.1)."""
    items.sort(key=lambda item: item.get_closest_marker("spends_login_limit") is not None)


STEP_SECONDS = 30
TOKEN_REUSE_SECONDS = 600  # Superset's access tokens last 15 minutes


def unused_code(secret: str, used_steps: dict[str, int], account: str) -> str:
    """A valid code the server has not seen for this account: it takes each time step once,
    and one step ahead of now at most, so a third login within a step waits for the next."""
    now = int(time.time() // STEP_SECONDS)
    step = max(now, used_steps.get(account, now - 1) + 1)
    if step > now + 1:
        time.sleep((step - 1) * STEP_SECONDS - time.time() + 0.1)
    used_steps[account] = step
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def chart_data(
    client: SupersetClient,
    dataset_id: int,
    result_type: str = "full",
    result_format: str = "json",
    **query: object,
) -> httpx.Response:
    """POST /api/v1/chart/data: one query on a dataset, as this client's account."""
    body = {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": ["department"], "metrics": ["count"], "row_limit": 1000, **query}],
        "result_format": result_format,
        "result_type": result_type,
    }
    return client.http.post("/api/v1/chart/data", json=body)


def csv_export(client: SupersetClient, result_format: str = "csv") -> httpx.Response:
    """Ten rows of fct_kpi_values as CSV (or xlsx), as this client's account: an export."""
    return chart_data(
        client,
        dataset_ids(client)["fct_kpi_values"],
        result_format=result_format,
        columns=["department", "kpi_value"],
        metrics=[],
        row_limit=10,
    )


def dataset_ids(client: SupersetClient) -> dict[str, int]:
    """{table name: dataset id} of the datasets this client's account may list."""
    return {
        row["table_name"]: row["id"]
        for row in client.list_all("/api/v1/dataset/", columns="!(id,table_name)")
    }


@dataclass
class Deployment:
    settings: Settings
    env: dict[str, str]
    url: str
    _used_steps: dict[str, int] = field(default_factory=dict)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def departments(self) -> list[str]:
        return department_slugs(PROJECT_DIR)

    def password(self, username: str) -> str:
        return SecretStore(self.settings.secrets_dir).get(password_secret(username))

    def secret(self, username: str) -> str:
        """A demo account's second-factor secret, from the secrets store."""
        return SecretStore(self.settings.secrets_dir).get(totp_secret(username))

    def code(self, username: str, secret: str | None = None) -> str:
        """An unused second-factor code of a demo account (or of the given secret)."""
        return unused_code(secret or self.secret(username), self._used_steps, username)

    def client(self, username: str) -> SupersetClient:
        """A REST client as this demo account; its token is reused for a while, so the tests
        do not log in (and spend a code) at every call."""
        token, issued = self._tokens.get(username, ("", 0.0))
        if token and time.time() - issued < TOKEN_REUSE_SECONDS:
            client = SupersetClient(self.url, token)
            # Its session may have ended since (a logout, a password set): then log in again.
            if client.http.get("/api/v1/me/").status_code == 200:
                return client
            client.close()
        client = SupersetClient.log_in(
            self.url, username, self.password(username), otp=self.code(username)
        )
        self._tokens[username] = (client.access_token, time.time())
        return client

    def forget_logins(self) -> None:
        """The next client() of each account logs in again."""
        self._tokens.clear()

    def query(self, statement: str, *params: object) -> list[tuple]:
        with connection_info(self.settings).connect() as conn:
            return conn.execute(statement, params or None).fetchall()

    def connect_as(self, role: str) -> psycopg.Connection:
        """A direct SQL connection as one of Superset's Postgres roles, with its own password."""
        info = connection_info(self.settings)
        return psycopg.connect(
            host=info.host,
            port=info.port,
            dbname=info.dbname,
            user=role,
            passfile=str(superset_passfile(self.settings)),
            autocommit=True,
        )

    def rempart(self, *args: str, check: bool = True) -> str:
        completed = run_rempart(*args, env=self.env, check=check, timeout=900)
        return completed.stdout + completed.stderr


def log_in(browser: object, deployment: Deployment, username: str) -> object:
    page = browser.new_page(viewport={"width": 1600, "height": 2300})
    # Each step once its page is idle, as a person does: a request of the page still in
    # flight answers with the session cookie it began with, and would drop the pending login
    # (a race of the product's second-factor step, which fails closed: back to the login).
    page.goto(f"{deployment.url}/login/", wait_until="networkidle")
    page.locator("input#username").fill(username)
    page.locator("input[type=password]").fill(deployment.password(username))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/rempart/mfa/", timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.locator("input#code").fill(deployment.code(username))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: "/login" not in url and "/rempart/" not in url, timeout=60_000)
    return page


def expected_charts(slug: str) -> int:
    dashboard = next(
        config
        for path, config in load_assets().items()
        if path.startswith("dashboards/") and config["slug"] == slug
    )
    return sum(
        1
        for node in dashboard["position"].values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    )


def open_dashboard(page: object, deployment: Deployment, slug: str) -> None:
    """Open a dashboard and wait until every chart has rendered, failing on any chart error."""
    page.goto(f"{deployment.url}/superset/dashboard/{slug}/")
    holders = page.locator('[data-test="dashboard-component-chart-holder"]')
    expected = expected_charts(slug)
    page.wait_for_function(
        """([expected]) => {
            const holders = document.querySelectorAll(
                '[data-test="dashboard-component-chart-holder"]');
            if (holders.length !== expected) return false;
            return [...holders].every(h =>
                !h.querySelector('[data-test="loading-indicator"], .loading') &&
                h.querySelector('canvas, svg, table, .superset-legacy-chart-big-number,'
                                + ' [role="alert"], .ant-empty, [data-test="chart-container"] *'));
        }""",
        arg=[expected],
        timeout=120_000,
    )
    page.wait_for_load_state("networkidle")
    assert holders.count() == expected
    errors = page.locator('[data-test="dashboard-component-chart-holder"] [role="alert"]')
    assert errors.count() == 0, f"{slug}: chart errors: {errors.all_inner_texts()}"
    assert page.get_by_text("Unexpected error").count() == 0


@contextlib.contextmanager
def superset_restarted_with(
    deployment: Deployment, extra_env: dict[str, str], secrets: dict[str, str]
) -> Iterator[None]:
    """The session's Superset restarted with other settings (another REMPART_AUTH) and these
    secrets in its store, then restarted as it was, whatever happens in between."""
    paths = [deployment.settings.secrets_dir / name for name in secrets]
    try:
        for path, value in zip(paths, secrets.values(), strict=True):
            path.write_text(value + "\n")
            path.chmod(0o600)
        run_rempart("superset", "stop", env=deployment.env)
        run_rempart("superset", "start", env={**deployment.env, **extra_env}, timeout=600)
        yield
    finally:
        run_rempart("superset", "stop", env=deployment.env, check=False)
        for path in paths:
            path.unlink(missing_ok=True)
        run_rempart("superset", "start", env=deployment.env, timeout=600)


# The browser tests' servers live as long as this package's tests: the integration and unit
# tests that follow do not share two cores with an idle Superset, its workers and Celery.
@pytest.fixture(scope="package")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 for the session's Superset to mail its reports to."""
    box = Mailbox(free_port())
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Deployment]:
    """Set up through the real command line; the environment is passed, never mutated, so
    this deployment and the other tests' session database never see each other. Reports and
    alerts are mailed to the session's mailbox."""
    work = tmp_path_factory.mktemp("superset-deployment")
    with temporary_server(load_settings()) as scratch:
        port, redis_port = free_port(), free_port()
        env = {
            **isolated_environment(scratch.state_dir, work),
            "REMPART_SUPERSET_PORT": str(port),
            "REMPART_REDIS_PORT": str(redis_port),
            "REMPART_SUPERSET_SYNC": "true",
            # Each alert evaluated after a publication takes a browser's screenshot: only the
            # report tests, which turn it on for their run, pay for it.
            "REMPART_SUPERSET_ALERTS_AFTER_PUBLISH": "false",
            "REMPART_SMTP_HOST": "127.0.0.1",
            "REMPART_SMTP_PORT": str(mailbox.port),
            "REMPART_SMTP_STARTTLS": "false",
        }
        settings = scratch.model_copy(
            update={
                "superset": scratch.superset.model_copy(update={"port": port}),
                "redis": scratch.redis.model_copy(update={"port": redis_port}),
            }
        )
        deployment = Deployment(settings, env, SupersetServer(settings).url)
        try:
            deployment.rempart("examples")
            deployment.rempart("run")
            yield deployment
        finally:
            deployment.rempart("superset", "stop", check=False)
            deployment.rempart("redis", "stop", check=False)


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Chromium is missing: `apt-get install chromium chromium-driver` (.ci/run does)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> list[Path]:
    """Where a test's screenshots go: its output folder, and REMPART_SCREENSHOT_DIR if set."""
    return [tmp_path] + (
        [Path(os.environ["REMPART_SCREENSHOT_DIR"])]
        if "REMPART_SCREENSHOT_DIR" in os.environ
        else []
    )
