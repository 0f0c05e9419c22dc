"""Single sign-on with OpenID Connect: a real provider (tests/e2e/identity_provider.py, on
Authlib) and the session's Superset restarted with REMPART_AUTH=oidc. A person logs in
through the provider in the browser; the groups claim of the signed ID token decides the
department, and leaving the group removes access at the next login."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Deployment, superset_restarted_with
from tests.e2e.identity_provider import IdentityProvider, Person

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider(deployment: Deployment) -> Iterator[IdentityProvider]:
    idp = IdentityProvider().start()
    client = idp.register_client(f"{deployment.url}/oauth-authorized/rempart_sso")
    # Keycloak sends full group paths when its mapper says so: "/rempart-sales".
    idp.people["carol"] = Person("carol's password at the provider", ["/rempart-sales"])
    settings = {
        "REMPART_AUTH": "oidc",
        "REMPART_OIDC_ISSUER": idp.issuer,
        "REMPART_OIDC_CLIENT_ID": client.client_id,
    }
    try:
        with superset_restarted_with(
            deployment, settings, secrets={"oidc_client_secret": client.client_secret}
        ):
            yield idp
    finally:
        idp.stop()


def _log_in_at_the_provider(page: object, deployment: Deployment, idp: IdentityProvider) -> None:
    page.goto(f"{deployment.url}/login/rempart_sso")
    page.wait_for_url(f"{idp.issuer}/authorize**")
    assert "code_challenge_method=S256" in page.url  # PKCE
    page.locator("#idp-username").fill("carol")
    page.locator("#idp-password").fill(idp.people["carol"].password)
    page.get_by_role("button", name="Log in at the provider").click()
    page.wait_for_url(f"{deployment.url}/**")
    page.wait_for_load_state("networkidle")


def _departments_seen(page: object, deployment: Deployment) -> set[str]:
    datasets = page.request.get(
        f"{deployment.url}/api/v1/dataset/?q=(columns:!(id,table_name),page_size:100)"
    )
    assert datasets.ok, datasets.text()
    ids = {row["table_name"]: row["id"] for row in datasets.json()["result"]}
    answer = page.request.post(
        f"{deployment.url}/api/v1/chart/data",
        data=json.dumps(
            {
                "datasource": {"id": ids["fct_kpi_values"], "type": "table"},
                "queries": [{"columns": ["department"], "metrics": ["count"], "row_limit": 100}],
                "result_format": "json",
                "result_type": "full",
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()
    return {row["department"] for row in answer.json()["result"][0]["data"]}


def test_the_groups_claim_decides_the_department_at_every_login(
    deployment: Deployment, browser: object, provider: IdentityProvider
) -> None:
    (since,) = deployment.query("select coalesce(max(event_id), 0) from audit.events")[0]
    page = browser.new_page()
    try:
        _log_in_at_the_provider(page, deployment, provider)
        roles = page.request.get(f"{deployment.url}/api/v1/me/roles/")
        assert roles.ok, roles.text()
        assert set(roles.json()["result"]["roles"]) == {"Viewer sales"}
        assert _departments_seen(page, deployment) == {"sales"}

        page.goto("about:blank")
        page.goto(f"{deployment.url}/logout/")
        # A nested group of the same name elsewhere in the provider's tree is another group.
        provider.people["carol"].groups = ["/projects/rempart-sales"]
        _log_in_at_the_provider(page, deployment, provider)
        assert "/login" in page.url
        assert page.request.get(f"{deployment.url}/api/v1/me/").status == 401

        provider.people["carol"].groups = []  # left the group at the provider
        _log_in_at_the_provider(page, deployment, provider)
        assert "/login" in page.url
        assert page.request.get(f"{deployment.url}/api/v1/me/").status == 401
    finally:
        page.close()
    with sqlite3.connect(deployment.settings.state_dir / "superset" / "superset.db") as db:
        (roles_left,) = db.execute(
            "select count(*) from ab_user_role join ab_user on ab_user.id = user_id "
            "where username = 'carol'"
        ).fetchone()
    assert roles_left == 0
    events = deployment.query(
        "select action, coalesce(details ->> 'factor', details ->> 'reason') from audit.events "
        "where event_id > %s and actor = 'carol' order by event_id",
        since,
    )
    assert ("superset_login", "identity_provider") in events, events
    assert events[-1] == ("superset_login_failed", "no_directory_group"), events
