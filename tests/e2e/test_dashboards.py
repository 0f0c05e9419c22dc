"""The dashboards in a real browser, and every other path to the data, per department.

One deployment for the module (see conftest.py): the demo files, the real flow, the real
Superset. A viewer of a department must see that department's rows only, whichever way they
ask: dashboard, chart-data API, export, SQL Lab, or a direct SQL connection with the role
Superset uses for them.

Over 450 lines: every path to the data, each a test, against one deployment, so that a path
left out shows as a missing test beside the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from flows.superset.assets_bundle import differences, load_assets, normalised, unzip_export
from flows.superset.rest_client import SupersetClient
from flows.superset.server import SupersetServer
from tests.e2e.conftest import (
    Deployment,
    chart_data,
    csv_export,
    dataset_ids,
    log_in,
    open_dashboard,
)

pytestmark = pytest.mark.e2e

DASHBOARDS = {"kpi-overview": "KPI overview", "data-quality": "Data quality by source"}
DEPARTMENT_MARTS = ["fct_kpi_values", "kpi_daily_summary", "dim_departments", "dq_kpi_anomalies"]


# -- helpers --------------------------------------------------------------------------------


def _chart(page: object, title: str) -> object:
    return page.locator('[data-test="dashboard-component-chart-holder"]').filter(has_text=title)


def _column_values(page: object, chart_title: str, column: str) -> set[str]:
    """The values of one column in a table chart as the browser shows them."""
    table = _chart(page, chart_title).locator("table")
    headers = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    index = headers.index(column)
    cells = table.locator(f"tbody tr td:nth-child({index + 1})").all_inner_texts()
    return {cell.strip() for cell in cells}


def _screenshot(page: object, name: str, folders: list[Path]) -> None:
    folders[0].mkdir(parents=True, exist_ok=True)
    first = folders[0] / name
    page.screenshot(path=str(first))
    for folder in folders[1:]:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, folder / name)


def _warehouse_database_id(client: SupersetClient) -> int:
    return next(
        row["id"]
        for row in client.list_all("/api/v1/database/", columns="!(id,database_name)")
        if row["database_name"] == "Rempart warehouse"
    )


# -- the dashboards in a browser -----------------------------------------------------------


def test_viewers_see_their_department_only_on_both_dashboards(
    deployment: Deployment, browser: object, screenshots: list[Path]
) -> None:
    seen: dict[str, str] = {}
    main_kpi = {"sales": "Revenue", "support": "Customer satisfaction"}  # seeds/departments.csv
    for department in ("sales", "support"):
        page = log_in(browser, deployment, f"viewer_{department}")
        try:
            open_dashboard(page, deployment, "kpi-overview")
            _screenshot(page, f"kpi_overview_{department}.png", screenshots)
            assert _column_values(page, "KPI values (detail)", "Department") == {department}
            # The department filter offers one value: the others do not exist for this viewer.
            assert page.get_by_text("1 option", exact=True).count() == 1
            # One KPI at a time, the department's main KPI first: the charts in the KPI
            # filter's scope show that KPI and no other.
            targets = _chart(page, "KPIs against their daily targets").inner_text()
            others = [kpi for other, kpi in main_kpi.items() if other != department]
            assert main_kpi[department] in targets, targets
            assert not any(kpi in targets for kpi in others), targets
            seen[department] = targets

            open_dashboard(page, deployment, "data-quality")
            _screenshot(page, f"data_quality_{department}.png", screenshots)
            assert _column_values(page, "Anomalies", "Department") <= {department, ""}
            assert _chart(page, "Rejected values").locator("tbody tr").count() > 0
        finally:
            page.close()
    assert seen["sales"] != seen["support"], "two departments were shown the same numbers"


def test_viewers_cannot_open_sql_lab_nor_administration(
    deployment: Deployment, browser: object
) -> None:
    page = log_in(browser, deployment, "viewer_sales")
    try:
        for path in ("/sqllab/", "/rowlevelsecurity/list/", "/users/list/", "/databaseview/list/"):
            response = page.goto(f"{deployment.url}{path}")
            denied = (
                response.status in (401, 403, 404)
                or "/login" in page.url
                or "/superset/welcome" in page.url
                or page.get_by_text("Access is Denied").count() > 0
                or page.get_by_text("not allowed", exact=False).count() > 0
            )
            assert denied, f"viewer reached {path} ({response.status}, {page.url})"
    finally:
        page.close()


# -- every other path ------------------------------------------------------------------------


def test_anonymous_requests_are_refused(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.url, follow_redirects=False, timeout=60) as http:
        for path in ("/superset/dashboard/kpi-overview/", "/dashboard/list/", "/sqllab/"):
            response = http.get(path)
            assert response.status_code in (302, 401), path
            if response.status_code == 302:
                assert "/login" in response.headers["location"], path
        for path in (
            "/api/v1/dashboard/",
            "/api/v1/chart/",
            "/api/v1/dataset/",
            "/api/v1/database/",
        ):
            assert http.get(path).status_code == 401, path
        assert http.post("/api/v1/chart/data", json={}).status_code in (400, 401)
        assert http.post("/api/v1/chart/data", json={}).status_code != 200


def test_chart_data_api_returns_only_the_viewers_department(deployment: Deployment) -> None:
    for department in deployment.departments:
        client = deployment.client(f"viewer_{department}")
        ids = dataset_ids(client)
        for mart in DEPARTMENT_MARTS:
            for query in (
                {},
                {"extras": {"where": "1 = 1 or department <> ''"}},
                {"filters": [{"col": "department", "op": "IN", "val": deployment.departments}]},
            ):
                response = chart_data(client, ids[mart], **query)
                assert response.status_code == 200, response.text
                rows = response.json()["result"][0]["data"]
                assert {row["department"] for row in rows} <= {department}, (mart, query)
        # Drill to detail: the rows behind a chart, every column.
        response = chart_data(client, ids["fct_kpi_values"], "drill_detail", columns=[], metrics=[])
        assert response.status_code == 200, response.text
        rows = response.json()["result"][0]["data"]
        assert rows and {row["department"] for row in rows} == {department}
        client.close()
    # The analyst reads every department.
    analyst = deployment.client("analyst")
    rows = chart_data(analyst, dataset_ids(analyst)["fct_kpi_values"]).json()["result"][0]["data"]
    assert {row["department"] for row in rows} == set(deployment.departments)
    analyst.close()


@pytest.mark.parametrize("chart_file", sorted(p for p in load_assets() if p.startswith("charts/")))
def test_every_saved_chart_answers_its_data_api_within_the_viewers_department(
    deployment: Deployment, chart_file: str
) -> None:
    """GET /api/v1/chart/<id>/data/ (what reports, alerts, thumbnails and API clients use)
    answers from the query context Superset built from the chart's committed form data."""
    chart = load_assets()[chart_file]
    department = deployment.departments[0]
    client = deployment.client(f"viewer_{department}")
    try:
        (chart_id,) = [
            row["id"]
            for row in client.list_all("/api/v1/chart/", columns="!(id,uuid)")
            if row["uuid"] == chart["uuid"]
        ]
        saved = client.request("GET", f"/api/v1/chart/{chart_id}")["result"]
        context = json.loads(saved["query_context"])
        assert context["form_data"]["viz_type"] == chart["viz_type"]
        for key, value in chart["params"].items():  # the form data it was built from
            assert context["form_data"][key] == value, key
        response = client.http.get(f"/api/v1/chart/{chart_id}/data/")
        assert response.status_code == 200, response.text
        others = set(deployment.departments) - {department}
        for result in response.json()["result"]:
            departments = {row["department"] for row in result["data"] if "department" in row}
            assert departments <= {department}, departments
            assert not others & set(result["colnames"]), result["colnames"]  # as series
    finally:
        client.close()


def test_daily_value_is_what_the_daily_target_means(deployment: Deployment) -> None:
    """The metric the cards and the targets table show: a day's total for additive KPIs, the
    average of the day's values for rates and averages; over a period, the average day."""
    client = deployment.client("viewer_sales")
    response = chart_data(
        client,
        dataset_ids(client)["kpi_daily_summary"],
        columns=["kpi_code"],
        metrics=["daily_value"],
    )
    client.close()
    assert response.status_code == 200, response.text
    shown = {row["kpi_code"]: row["daily_value"] for row in response.json()["result"][0]["data"]}
    expected = dict(
        deployment.query(
            "select kpi_code, case when kpis.aggregation = 'avg' then avg(kpi_value)"
            " else sum(kpi_value) / count(distinct measured_on) end::float"
            " from marts.fct_kpi_values join marts.dim_kpis as kpis using (kpi_code)"
            " where department = 'sales' group by kpi_code, kpis.aggregation"
        )
    )
    assert {"chiffre_affaires", "panier_moyen"} <= shown.keys()
    assert shown.keys() == expected.keys()
    for kpi_code, value in expected.items():
        assert shown[kpi_code] == pytest.approx(value, rel=1e-6), kpi_code


def test_postgres_still_filters_when_superset_rls_is_gone(deployment: Deployment) -> None:
    """Superset's RLS filters are one layer; the viewer's own Postgres role is the other."""
    admin = deployment.client("admin")
    for rule in admin.list_all("/api/v1/rowlevelsecurity/"):
        admin.request("DELETE", f"/api/v1/rowlevelsecurity/{rule['id']}")
    try:
        viewer = deployment.client("viewer_support")
        rows = chart_data(viewer, dataset_ids(viewer)["fct_kpi_values"]).json()["result"][0]["data"]
        assert {row["department"] for row in rows} == {"support"}
        viewer.close()
    finally:
        admin.close()
        output = deployment.rempart("superset", "sync")
    assert "RLS filters updated: 3" in output


def test_viewers_may_not_export(deployment: Deployment) -> None:
    client = deployment.client("viewer_sales")
    assert csv_export(client).status_code == 403
    assert client.http.get("/api/v1/dashboard/export/", params={"q": "!(1)"}).status_code in (
        403,
        404,
    )
    client.close()


def test_viewers_may_not_run_sql_lab_queries(deployment: Deployment, browser: object) -> None:
    """SQL Lab is not allowed to viewers: its API refuses a logged-in viewer's query sent from
    their browser session with the page's own CSRF token, the very request that serves the
    analyst."""
    analyst = deployment.client("analyst")
    database_id = _warehouse_database_id(analyst)
    analyst.close()

    def query_from_the_browser(username: str) -> tuple[int, str]:
        page = log_in(browser, deployment, username)
        try:
            return page.evaluate(
                """async ([databaseId]) => {
                    const token = document.querySelector('#csrf_token')?.value;
                    const response = await fetch('/api/v1/sqllab/execute/', {
                        method: 'POST',
                        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                        body: JSON.stringify({database_id: databaseId, runAsync: false,
                            schema: 'marts',
                            sql: 'select distinct department from marts.fct_kpi_values'}),
                    });
                    return [response.status, await response.text()];
                }""",
                [database_id],
            )
        finally:
            page.close()

    status, body = query_from_the_browser("analyst")
    assert status == 200 and "support" in body, (status, body[:300])
    status, body = query_from_the_browser("viewer_sales")
    assert status in (401, 403), (status, body[:300])
    assert "support" not in body and "operations" not in body


def test_sql_lab_is_read_only_for_the_analyst(deployment: Deployment) -> None:
    analyst = deployment.client("analyst")
    database_id = _warehouse_database_id(analyst)

    def execute(sql: str) -> httpx.Response:
        analyst._ensure_csrf()
        return analyst.http.post(
            "/api/v1/sqllab/execute/",
            json={"database_id": database_id, "sql": sql, "runAsync": False, "schema": "marts"},
        )

    response = execute("select department, count(*) as n from marts.fct_kpi_values group by 1")
    assert response.status_code == 200, response.text
    assert {row["department"] for row in response.json()["data"]} == set(deployment.departments)
    before = deployment.query("select count(*) from marts.fct_kpi_values")[0][0]
    for statement in ("delete from marts.fct_kpi_values", "select * from raw.records limit 1"):
        response = execute(statement)
        assert response.status_code != 200 or response.json().get("status") != "success"
    assert deployment.query("select count(*) from marts.fct_kpi_values")[0][0] == before
    analyst.close()


def test_direct_sql_as_a_viewer_role_reaches_its_department_only(deployment: Deployment) -> None:
    for department in deployment.departments:
        with deployment.connect_as(f"rempart_viewer_{department}") as conn:
            for mart in DEPARTMENT_MARTS:
                found = {
                    row[0] for row in conn.execute(f"select distinct department from marts.{mart}")
                }
                assert found <= {department}, (department, mart, found)
            assert conn.execute("select count(*) from marts.fct_kpi_values").fetchone()[0] > 0
            for escape in (
                "set role rempart_analyst",
                "set session authorization rempart_analyst",
                "select * from raw.records limit 1",
                "select * from staging.stg_raw__records limit 1",
                "select * from audit.events limit 1",
                "delete from marts.fct_kpi_values",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(escape)
            # A setting a user can change from SQL changes nothing.
            conn.execute("select set_config('rempart.department', 'sales', false)")
            found = {
                r[0] for r in conn.execute("select distinct department from marts.fct_kpi_values")
            }
            assert found == {department}


# -- the sync and the assets ------------------------------------------------------------------


def test_second_sync_changes_nothing_and_assets_round_trip(deployment: Deployment) -> None:
    output = deployment.rempart("superset", "sync")
    assert "in sync, nothing changed" in output, output
    admin = deployment.client("admin")
    exported = unzip_export(admin.request("GET", "/api/v1/assets/export/"))
    admin.close()
    committed = load_assets()
    assert differences(committed, exported.values()) == []
    by_uuid = {config.get("uuid"): config for config in exported.values()}
    for path, config in committed.items():
        assert config["uuid"] in by_uuid, path
        held = normalised(by_uuid[config["uuid"]])
        assert {key: held.get(key) for key in normalised(config)} == normalised(config), path


def test_a_renamed_column_in_dbt_updates_its_dataset(deployment: Deployment) -> None:
    """The sync follows the manifest: a column renamed in a mart's YAML is renamed in Superset."""
    manifest_path = Path(deployment.env["DBT_TARGET_PATH"]) / "manifest.json"
    original = manifest_path.read_text(encoding="utf-8")
    manifest = json.loads(original)
    [mart] = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] == "dq_source_quality"
    ]
    column = mart["columns"].pop("files_landed")
    mart["columns"]["files_received"] = {**column, "name": "files_received"}
    admin = deployment.client("admin")

    def dataset_columns() -> set[str]:
        dataset_id = dataset_ids(admin)["dq_source_quality"]
        result = admin.request("GET", f"/api/v1/dataset/{dataset_id}")["result"]
        return {column["column_name"] for column in result["columns"]}

    assert "files_landed" in dataset_columns()
    try:
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        output = deployment.rempart("superset", "sync")
        assert "assets imported: 1 (" in output, output
        renamed = dataset_columns()
        assert "files_received" in renamed and "files_landed" not in renamed
    finally:
        manifest_path.write_text(original, encoding="utf-8")
        output = deployment.rempart("superset", "sync")
    assert "assets imported: 1 (" in output, output
    assert "files_landed" in dataset_columns()
    admin.close()


def test_consultations_are_in_the_audit_trail(deployment: Deployment) -> None:
    client = deployment.client("viewer_operations")
    ids = dataset_ids(client)
    (before,) = deployment.query("select coalesce(max(event_id), 0) from audit.events")[0]
    action_log = SupersetServer(deployment.settings).home / "superset.db"
    with contextlib.closing(sqlite3.connect(action_log)) as metadata:
        (logged_before,) = metadata.execute("select coalesce(max(id), 0) from logs").fetchone()
    response = client.http.post(
        "/api/v1/chart/data",
        json={
            "datasource": {"id": ids["kpi_daily_summary"], "type": "table"},
            "queries": [{"columns": ["department"], "metrics": ["value_total"]}],
            "force": True,  # run by the warehouse: Superset times each step
        },
    )
    assert response.status_code == 200, response.text
    assert client.http.get("/api/v1/dashboard/kpi-overview").status_code == 200
    client.close()
    events = deployment.query(
        "select action, details from audit.events "
        "where actor = 'viewer_operations' and event_id > %s order by event_id",
        before,
    )
    actions = [action for action, _ in events]
    # One event per request: the chart's steps (its SQL, its encoding...) are in it, not
    # events of their own.
    assert actions == ["superset_chartdatarestapi_data", "superset_dashboardrestapi_get"], actions
    steps = events[0][1]["steps"]
    assert "execute_sql" in steps and "ChartDataRestApi.json_dumps" in steps, steps
    # Superset's action log too: one row for the request, written by its writer thread.
    deadline = time.monotonic() + 10
    while True:
        with contextlib.closing(sqlite3.connect(action_log)) as metadata:
            logged = metadata.execute(
                "select action, json from logs where id > ? and action like 'Chart%'",
                (logged_before,),
            ).fetchall()
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [action for action, _ in logged] == ["ChartDataRestApi.data"], logged
    assert "execute_sql" in json.loads(logged[0][1])["steps"]

    # An export (CSV of a chart's data, which the analyst may do) is recorded as such.
    analyst = deployment.client("analyst")
    response = csv_export(analyst)
    analyst.close()
    assert response.status_code == 200, response.text
    exports = deployment.query(
        "select details from audit.events where actor = 'analyst' "
        "and action = 'superset_chartdatarestapi_data'"
    )
    assert any(details.get("result_format") == "csv" for (details,) in exports), exports

    output = deployment.rempart("audit", "verify")
    assert "ok" in output.lower() or "verified" in output.lower(), output


# -- hardening (last: it trips the login rate limit for this address) -----------------------


def test_a_failed_build_changes_nothing_readers_see_until_a_passing_one(
    deployment: Deployment,
) -> None:
    """Write-audit-publish through the chart-data API: a build whose test fails leaves every
    answer as it was, for a viewer and for the analyst; the next passing build publishes."""
    header = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité\n"
    inbox = Path(deployment.env["REMPART_INBOX_DIR"])

    # One login each: the login rate limit counts failures only, but stays out of the way.
    clients = {username: deployment.client(username) for username in ("viewer_sales", "analyst")}

    def answers() -> dict[tuple[str, str], object]:
        seen = {}
        for username, client in clients.items():
            ids = dataset_ids(client)
            for mart in ("fct_kpi_values", "kpi_daily_summary"):
                response = chart_data(
                    client,
                    ids[mart],
                    columns=["department", "measured_on"],
                    metrics=[
                        "count",
                        {
                            "label": "total",
                            "expressionType": "SQL",
                            "sqlExpression": "SUM(value_sum)"
                            if mart != "fct_kpi_values"
                            else "SUM(kpi_value)",
                        },
                    ],
                    row_limit=10000,
                )
                assert response.status_code == 200, response.text
                seen[(username, mart)] = sorted(
                    response.json()["result"][0]["data"], key=lambda row: json.dumps(row)
                )
        return seen

    before = answers()
    (inbox / "sales_fr_2026-12-07.csv").write_text(
        header + "07/12/2026;Ventes;Boissons;Café;taux_conversion;180;%\n"
        "07/12/2026;Ventes;Boissons;Café;chiffre_affaires;999,5;EUR\n"
    )
    failed = deployment.rempart("run", check=False)
    assert "test assert_kpi_values_fit_their_unit: fail" in failed, failed[-3000:]
    assert answers() == before

    (inbox / "sales_fr_2026-12-07-corrected.csv").write_text(
        header + "07/12/2026;Ventes;Boissons;Café;taux_conversion;1,8;%\n"
    )
    deployment.rempart("run")
    after = answers()
    for client in clients.values():
        client.close()
    december_7 = int(dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp() * 1000)
    for username in ("viewer_sales", "analyst"):
        [row] = [r for r in after[(username, "fct_kpi_values")] if r["measured_on"] == december_7]
        assert (row["department"], row["count"], row["total"]) == ("sales", 2, 1001.3)
    assert {row["department"] for row in after[("viewer_sales", "fct_kpi_values")]} == {"sales"}
    assert {row["department"] for row in after[("analyst", "fct_kpi_values")]} == set(
        deployment.departments
    ) | {row["department"] for row in before[("analyst", "fct_kpi_values")]}


@pytest.mark.spends_login_limit
def test_headers_cookies_and_login_rate_limit(deployment: Deployment, browser: object) -> None:
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        page = http.get("/login/")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "connect-src 'self'" in policy
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # plain HTTP on 127.0.0.1; Secure behind HTTPS

    # Failed logins through the login form, as a browser sends them, are rate-limited.
    tab = browser.new_page()
    statuses = []
    try:
        for _ in range(7):
            tab.goto(f"{deployment.url}/login/")
            # An unknown name: the limit is per address, and a real account would lock.
            tab.locator("input#username").fill("nobody_at_all")
            tab.locator("input[type=password]").fill("not the password")
            with tab.expect_response(
                lambda r: r.request.method == "POST" and "/login" in r.url
            ) as attempt:
                tab.get_by_role("button", name="Sign In").click()
            statuses.append(attempt.value.status)
    finally:
        tab.close()
    assert statuses[:5] == [302] * 5, statuses
    assert 429 in statuses[5:], statuses

    # And so are failed logins through the REST API.
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        codes = [
            http.post(
                "/api/v1/security/login",
                json={"username": "nobody_at_all", "password": "wrong", "provider": "db"},
            ).status_code
            for _ in range(7)
        ]
    assert codes[-1] == 429, codes
