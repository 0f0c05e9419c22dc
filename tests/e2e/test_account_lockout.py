"""Lockout per account, against the real Superset of the session's deployment: failed logins
from several addresses lock the account, its right password is then refused with the answer
a wrong one gets, and `rempart superset unlock` lifts the lock; every step is audited. The
lock never reaches the address its owner logged in from, nor the service account from
elsewhere; and a service account is known however its name is written."""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest

from flows.names import SYNC_ACCOUNT
from tests.e2e.conftest import Deployment

pytestmark = pytest.mark.e2e

# Not 127.0.0.1: other tests spend that address's per-address login limit.
ADDRESSES = ("127.0.0.2", "127.0.0.3")


def _login(
    deployment: Deployment, address: str, username: str, password: str, otp: str | None = None
) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=address)
    body = {"username": username, "password": password, "provider": "db"}
    if otp is not None:
        body["otp"] = otp
    with httpx.Client(base_url=deployment.url, transport=transport, timeout=60) as http:
        return http.post("/api/v1/security/login", json=body)


def _events(deployment: Deployment, account: str, since: int) -> list[tuple[str, str | None]]:
    return [
        (action, address)
        for action, address in deployment.query(
            "select action, coalesce(details ->> 'address', details ->> 'account') "
            "from audit.events where event_id > %s and (actor = %s or details ->> 'account' = %s) "
            "order by event_id",
            since,
            account,
            account,
        )
    ]


def test_failures_from_two_addresses_lock_the_account_until_unlocked(
    deployment: Deployment,
) -> None:
    username = f"viewer_{deployment.departments[-1]}"
    password = deployment.password(username)
    (since,) = deployment.query("select coalesce(max(event_id), 0) from audit.events")[0]
    try:
        wrong = [
            _login(deployment, address, username, "not the password")
            for address in (ADDRESSES[0],) * 3 + (ADDRESSES[1],) * 2
        ]
        assert [r.status_code for r in wrong] == [401] * 5

        refused = _login(deployment, ADDRESSES[0], username, password, deployment.code(username))
        assert refused.status_code == 401
        assert refused.json() == wrong[0].json()  # nothing tells a locked account apart
        assert "access_token" not in refused.text
    finally:
        output = deployment.rempart("superset", "unlock", username)
    assert "unlocked" in output and "not locked" not in output

    accepted = _login(deployment, ADDRESSES[1], username, password, deployment.code(username))
    assert accepted.status_code == 200 and accepted.json()["access_token"]

    events = _events(deployment, username, since)
    assert (
        events[:5]
        == [("superset_login_failed", ADDRESSES[0])] * 3
        + [("superset_login_failed", ADDRESSES[1])] * 2
    )
    actions = [action for action, _ in events]
    assert actions[5:] == [
        "superset_account_locked",
        "superset_login_refused_locked",
        "superset_account_unlocked",
        "superset_login",
    ], events
    assert "verified" in deployment.rempart("audit", "verify").lower()


def test_failures_from_elsewhere_never_lock_the_service_account(deployment: Deployment) -> None:
    password = deployment.password(SYNC_ACCOUNT)
    (since,) = deployment.query("select coalesce(max(event_id), 0) from audit.events")[0]
    try:
        for number in range(2, 9):  # more than the lockout's attempts, each address once
            answer = _login(deployment, f"127.0.0.{number}", SYNC_ACCOUNT, "not the password")
            assert answer.status_code == 401
        local = _login(deployment, "127.0.0.1", SYNC_ACCOUNT, password)
        assert local.status_code == 200, local.text
    finally:
        deployment.rempart("superset", "unlock", SYNC_ACCOUNT)
    failures = deployment.query(
        "select details ->> 'reason' from audit.events where event_id > %s and actor = %s "
        "and action = 'superset_login_failed'",
        since,
        SYNC_ACCOUNT,
    )
    assert failures == [("service_account_not_local",)] * 7


def test_others_lock_an_administrator_out_everywhere_but_where_they_logged_in(
    deployment: Deployment,
) -> None:
    password, usual, elsewhere = deployment.password("admin"), "127.0.0.20", "127.0.0.21"
    assert _login(deployment, usual, "admin", password, deployment.code("admin")).status_code == 200
    try:
        for number in range(22, 28):  # an anonymous sender, from many addresses
            assert _login(deployment, f"127.0.0.{number}", "admin", "guess").status_code == 401
        assert (
            _login(deployment, elsewhere, "admin", password, deployment.code("admin")).status_code
            == 401
        )
        at_home = _login(deployment, usual, "admin", password, deployment.code("admin"))
        assert at_home.status_code == 200, at_home.text
    finally:
        deployment.rempart("superset", "unlock", "admin")


def _form_login(deployment: Deployment, address: str, username: str, password: str) -> str:
    """The login form's POST, as a browser sends it (with its CSRF token); where it leads."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=deployment.url, transport=transport, timeout=60) as http:
        form = http.get("/login/").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        assert token is not None, form[:500]
        answer = http.post(
            "/login/",
            data={"csrf_token": token.group(1), "username": username, "password": password},
        )
        return answer.headers.get("Location", "")


def test_a_service_account_is_refused_in_the_form_however_its_name_is_written(
    deployment: Deployment, browser: object
) -> None:
    password = deployment.password(SYNC_ACCOUNT)
    metadata = sqlite3.connect(deployment.settings.state_dir / "superset" / "superset.db")
    try:
        [(email,)] = metadata.execute(
            "select email from ab_user where username = ?", (SYNC_ACCOUNT,)
        ).fetchall()
    finally:
        metadata.close()
    page = browser.new_page()
    try:
        page.goto(f"{deployment.url}/login/", wait_until="networkidle")
        page.locator("input#username").fill("Rempart_Sync")
        page.locator("input[type=password]").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign In").click()
        page.wait_for_load_state("networkidle")
        assert "/login/" in page.url and "/rempart/mfa" not in page.url, page.url
    finally:
        page.close()
    for number, typed in enumerate((SYNC_ACCOUNT.upper(), email), start=30):
        leads_to = _form_login(deployment, f"127.0.0.{number}", typed, password)
        assert "/login/" in leads_to and "/rempart/mfa" not in leads_to, (typed, leads_to)
    # Nor by the REST login from elsewhere, however written.
    assert _login(deployment, "127.0.0.32", SYNC_ACCOUNT.upper(), password).status_code == 401
