"""The second factor, the pipeline's service account and server-side sessions, against the
real Superset of the session's deployment: a browser enrols a new account from its QR code's
payload, logs in with password and code; codes are refused when wrong, replayed or spent;
the REST login and its refresh give no token on a password alone; a copied session cookie
dies with logout and with idleness; the sync runs as its service account and fails closed
without it."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pyotp
import pytest

from flows.names import SYNC_ACCOUNT
from flows.superset.accounts import superset_accounts
from flows.superset.errors import SupersetError
from flows.superset.rest_client import SupersetClient
from flows.superset.server import SupersetServer
from tests.e2e.conftest import Deployment, open_dashboard

pytestmark = pytest.mark.e2e

NEW_USER = "new_sales_person"


def _api_login(deployment: Deployment, body: dict, address: str = "127.0.0.8", **headers: str):
    """From 127.0.0.8 by default: the failures here must not spend the per-address login limit
    of 127.0.0.1, where the sync logs in from."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=deployment.url, transport=transport, timeout=60) as http:
        return http.post("/api/v1/security/login", json=body, headers=headers)


def _credentials(deployment: Deployment, username: str, **extra: object) -> dict:
    return {
        "username": username,
        "password": deployment.password(username),
        "provider": "db",
        **extra,
    }


def _since(deployment: Deployment) -> int:
    return deployment.query("select coalesce(max(event_id), 0) from audit.events")[0][0]


def _events(deployment: Deployment, since: int, account: str) -> list[tuple[str, dict]]:
    return deployment.query(
        "select action, details from audit.events where event_id > %s "
        "and (actor = %s or details ->> 'account' = %s) order by event_id",
        since,
        account,
        account,
    )


def _metadata(deployment: Deployment) -> sqlite3.Connection:
    return sqlite3.connect(deployment.settings.state_dir / "superset" / "superset.db")


def _create_account(deployment: Deployment, tmp_path: Path, username: str, roles: list[str]):
    """As Rempart creates accounts, with no second factor."""
    password_file = tmp_path / f"{username}.password"
    password_file.write_text("a long password for this test only\n")
    password_file.chmod(0o600)
    spec = {
        "username": username,
        "first_name": "New",
        "last_name": "Person",
        "email": f"{username}@rempart.invalid",
        "roles": roles,
        "password_file": str(password_file),
    }
    SupersetServer(deployment.settings).apply_accounts([spec])
    return password_file.read_text().strip()


def _sign_in(page, deployment: Deployment, username: str, password: str) -> None:
    # Typed once the page has loaded, as a person does: a request of the login page still in
    # flight answers with the session cookie it began with, and would drop the pending login.
    page.goto(f"{deployment.url}/login/", wait_until="networkidle")
    page.locator("input#username").fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/rempart/mfa/**", timeout=60_000)
    page.wait_for_load_state("networkidle")


def _log_out(page, deployment: Deployment) -> None:
    page.goto("about:blank")  # leave the dashboard's own requests behind first
    page.goto(f"{deployment.url}/logout/")
    page.wait_for_url("**/login/**")
    page.wait_for_load_state("networkidle")


def _give_code(page, code: str) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("input#code").fill(code)
        page.get_by_role("button", name="Verify").click()
    return answer.value.status


def test_a_new_account_enrols_then_logs_in_with_password_and_code(
    deployment: Deployment, browser: object, tmp_path: Path
) -> None:
    password = _create_account(deployment, tmp_path, NEW_USER, ["Viewer sales"])
    since = _since(deployment)
    page = browser.new_page(viewport={"width": 1600, "height": 2300})
    try:
        # First login: the password leads to enrolment, not into Superset.
        _sign_in(page, deployment, NEW_USER, password)
        assert page.url.endswith("/rempart/mfa/enrol")
        assert _api_login(deployment, _new_user_body(password)).status_code == 401
        qr = page.locator("img[data-otpauth-uri]")
        assert qr.get_attribute("src").startswith("data:image/svg+xml")
        totp = pyotp.parse_uri(qr.get_attribute("data-otpauth-uri"))
        assert totp.secret in page.content()  # typed in by hand if the camera fails

        with page.expect_response(lambda r: r.request.method == "POST", timeout=120_000) as sent:
            page.locator("input#code").fill(totp.at(0))  # a code of 1970: wrong
            page.get_by_role("button", name="Confirm").click()
        answer = sent.value
        assert (answer.status, answer.url) == (401, page.url), (answer.status, answer.url)
        assert "not valid" in page.locator(".error").inner_text(timeout=60_000)

        page.locator("input#code").fill(deployment.code(NEW_USER, totp.secret))
        page.get_by_role("button", name="Confirm").click()
        recovery_codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(recovery_codes) == 10 and len(set(recovery_codes)) == 10
        page.locator("#continue").click()
        page.wait_for_url(lambda url: "/rempart/" not in url and "/login" not in url)

        # Logged in; out; in again with password and code: the department's dashboard.
        _log_out(page, deployment)
        _sign_in(page, deployment, NEW_USER, password)
        code = deployment.code(NEW_USER, totp.secret)
        assert _give_code(page, code) == 302
        open_dashboard(page, deployment, "kpi-overview")
        _log_out(page, deployment)

        # The same code again (replay), a wrong one, then a recovery code once, not twice.
        _sign_in(page, deployment, NEW_USER, password)
        assert _give_code(page, code) == 401
        assert _give_code(page, totp.at(0)) == 401
        assert _give_code(page, recovery_codes[0].upper()) == 302
        _log_out(page, deployment)
        _sign_in(page, deployment, NEW_USER, password)
        assert _give_code(page, recovery_codes[0]) == 401
        assert "/rempart/mfa/" in page.url  # still outside
        me = page.request.get(f"{deployment.url}/api/v1/me/")
        assert me.status == 401
    finally:
        page.close()

    # Through the API too, with the code in `otp`.
    assert _api_login(deployment, _new_user_body(password)).status_code == 401
    accepted = _api_login(
        deployment, _new_user_body(password, otp=deployment.code(NEW_USER, totp.secret))
    )
    assert accepted.status_code == 200, accepted.text

    # The secret is stored, but encrypted: not in clear, not even base32-decoded.
    with _metadata(deployment) as metadata:
        rows = metadata.execute("select secret from rempart_mfa_enrolments").fetchall()
    stored = b"".join(secret for (secret,) in rows)
    assert rows and totp.secret.encode() not in stored
    assert totp.byte_secret() not in stored

    # The administrator resets the factor: the next login enrols again.
    output = deployment.rempart("superset", "mfa", "reset", NEW_USER)
    assert "second factor reset" in output, output
    refused = _api_login(
        deployment, _new_user_body(password, otp=deployment.code(NEW_USER, totp.secret))
    )
    assert refused.status_code == 401

    actions = [
        (action, details.get("reason") or details.get("factor"))
        for action, details in _events(deployment, since, NEW_USER)
    ]
    for expected in [
        ("superset_login_failed", "enrolment_code"),
        ("superset_mfa_enrolled", None),
        ("superset_login", "totp"),
        ("superset_logout", None),
        ("superset_login_failed", "code"),
        ("superset_recovery_code_used", None),
        ("superset_login", "recovery_code"),
        ("superset_mfa_reset", None),
        ("superset_login_failed", "not_enrolled"),
    ]:
        assert expected in actions, (expected, actions)
    assert "verified" in deployment.rempart("audit", "verify").lower()


def _new_user_body(password: str, **extra: object) -> dict:
    return {"username": NEW_USER, "password": password, "provider": "db", **extra}


def _forged_token(deployment: Deployment, claims: dict) -> str:
    """A token signed with Superset's own key, as another login path would issue it."""
    server = SupersetServer(deployment.settings)
    script = (
        "import json, sys, time, uuid, jwt\n"
        "key, claims = sys.stdin.read().split('\\n', 1)\n"
        "now = int(time.time())\n"
        "body = {'iat': now, 'nbf': now, 'exp': now + 600, 'jti': str(uuid.uuid4()),"
        " **json.loads(claims)}\n"
        "print(jwt.encode(body, key, algorithm='HS256'))\n"
    )
    key = Path(server.environment()["SUPERSET_SECRET_KEY_FILE"]).read_text().strip()
    return subprocess.run(
        [str(server.binary("python")), "-c", script],
        input=f"{key}\n{json.dumps(claims)}",
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()


def _me(deployment: Deployment, token: str) -> int:
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        return http.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"}).status_code


def test_the_rest_login_and_refresh_need_the_second_factor(deployment: Deployment) -> None:
    username = "viewer_support"
    # An address of its own: the test above spends three failures from 127.0.0.8, and a sixth
    # attempt within 40 s, even a right one, meets the limit (5 failures per 40 s).
    address = "127.0.0.9"
    assert _api_login(deployment, _credentials(deployment, username), address).status_code == 401
    stale = pyotp.TOTP(deployment.secret(username)).at(0)  # a code of 1970: never valid now
    wrong = _api_login(deployment, _credentials(deployment, username, otp=stale), address)
    assert wrong.status_code == 401 and "access_token" not in wrong.text
    good = _api_login(
        deployment,
        _credentials(deployment, username, otp=deployment.code(username), refresh=True),
        address,
    )
    assert good.status_code == 200, good.text
    tokens = good.json()
    assert _me(deployment, tokens["access_token"]) == 200

    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        assert http.post("/api/v1/security/refresh").status_code == 401
        with_access = http.post(
            "/api/v1/security/refresh",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert with_access.status_code in (401, 422)
        refreshed = http.post(
            "/api/v1/security/refresh",
            headers={"Authorization": f"Bearer {tokens['refresh_token']}"},
        )
    assert refreshed.status_code == 200
    assert _me(deployment, refreshed.json()["access_token"]) == 200

    # Tokens that Rempart's login did not issue, or issued on the password alone, get nothing,
    # and a refresh token of that kind does not mint one either.
    (user_id,) = (
        _metadata(deployment)
        .execute("select id from ab_user where username = ?", (username,))
        .fetchone()
    )
    for claims in (
        {"sub": str(user_id), "type": "access", "fresh": True},
        {"sub": str(user_id), "type": "access", "fresh": True, "rempart_factor": "password"},
        {"sub": str(user_id), "type": "access", "fresh": True, "rempart_factor": "service"},
    ):
        assert _me(deployment, _forged_token(deployment, claims)) == 401, claims
    forged_refresh = _forged_token(deployment, {"sub": str(user_id), "type": "refresh"})
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        answer = http.post(
            "/api/v1/security/refresh", headers={"Authorization": f"Bearer {forged_refresh}"}
        )
    assert answer.status_code == 401


def test_the_service_account_logs_in_from_this_machine_only(deployment: Deployment) -> None:
    body = {
        "username": SYNC_ACCOUNT,
        "password": deployment.password(SYNC_ACCOUNT),
        "provider": "db",
    }
    local = _api_login(deployment, body, address="127.0.0.1")
    assert local.status_code == 200, local.text
    assert _api_login(deployment, body, address="127.0.0.4").status_code == 401
    relayed = _api_login(
        deployment, body, address="127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}
    )
    assert relayed.status_code == 401
    # What it may do is the sync's work, not reading data: it has no department.
    client = SupersetClient(deployment.url, local.json()["access_token"])
    try:
        assert client.list_all("/api/v1/dashboard/")
        with pytest.raises(SupersetError, match="403"):
            client.request("GET", "/api/v1/security/users/")
    finally:
        client.close()


def _browser_session(deployment: Deployment, browser: object, username: str):
    page = browser.new_page()
    _sign_in(page, deployment, username, deployment.password(username))
    assert _give_code(page, deployment.code(username)) == 302
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return page, cookies


def _with_cookies(deployment: Deployment, cookies: dict) -> int:
    with httpx.Client(base_url=deployment.url, cookies=cookies, timeout=60) as http:
        return http.get("/api/v1/me/").status_code


def test_a_copied_session_cookie_dies_at_logout_and_when_idle(
    deployment: Deployment, browser: object
) -> None:
    page, cookies = _browser_session(deployment, browser, "viewer_operations")
    try:
        assert _with_cookies(deployment, cookies) == 200
        _log_out(page, deployment)
    finally:
        page.close()
    assert _with_cookies(deployment, cookies) == 401

    page, cookies = _browser_session(deployment, browser, "viewer_operations")
    page.wait_for_load_state("networkidle")  # no request of the page's still in flight
    page.close()
    assert _with_cookies(deployment, cookies) == 200
    idle = deployment.settings.superset.session_idle_minutes * 60 + 5
    with _metadata(deployment) as metadata:
        metadata.execute(
            "update rempart_sessions set last_seen = last_seen - ? "
            "where user_id = (select id from ab_user where username = 'viewer_operations')",
            (idle,),
        )
    assert _with_cookies(deployment, cookies) == 401
    deployment.forget_logins()  # the account's API sessions aged with it


def test_the_sync_runs_as_its_service_account_and_fails_closed_without_it(
    deployment: Deployment,
) -> None:
    assert "in sync" in deployment.rempart("superset", "sync")
    # Gone under its name (renamed, so that what it owns stays consistent for the restore).
    with _metadata(deployment) as metadata:
        metadata.execute(
            "update ab_user set username = 'former_sync' where username = ?", (SYNC_ACCOUNT,)
        )
    try:
        failed = deployment.rempart("superset", "sync", check=False)
        assert f"service account {SYNC_ACCOUNT} is missing" in failed, failed[-2000:]
        assert "Traceback" not in failed
    finally:
        with _metadata(deployment) as metadata:
            metadata.execute(
                "update ab_user set username = ? where username = 'former_sync'", (SYNC_ACCOUNT,)
            )
    assert "in sync" in deployment.rempart("superset", "sync")


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _refresh(deployment: Deployment, refresh_token: str) -> int:
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        return http.post(
            "/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh_token}"}
        ).status_code


def test_api_tokens_live_and_end_with_a_session_of_their_own(
    deployment: Deployment, browser: object, tmp_path: Path
) -> None:
    username, address = f"viewer_{deployment.departments[0]}", "127.0.0.10"

    def tokens() -> dict:
        body = _credentials(deployment, username, otp=deployment.code(username), refresh=True)
        answer = _api_login(deployment, body, address)
        assert answer.status_code == 200, answer.text
        return answer.json()

    issued = tokens()
    access, refresh = _claims(issued["access_token"]), _claims(issued["refresh_token"])
    assert access["exp"] - access["iat"] <= 15 * 60
    assert refresh["exp"] - refresh["iat"] <= 8 * 3600  # never the library's 30 days
    assert _me(deployment, issued["access_token"]) == 200
    assert _refresh(deployment, issued["refresh_token"]) == 200

    # Logging out in a browser ends the account's tokens too.
    page, _cookies = _browser_session(deployment, browser, username)
    try:
        _log_out(page, deployment)
    finally:
        page.close()
    assert _me(deployment, issued["access_token"]) == 401
    assert _refresh(deployment, issued["refresh_token"]) == 401

    # So does a new password, set by an administrator (and set back: it is one again).
    issued = tokens()
    [spec] = [s for s in superset_accounts(deployment.settings) if s["username"] == username]
    changed = tmp_path / "changed.password"
    changed.write_text("another long password of this test\n")
    changed.chmod(0o600)
    server = SupersetServer(deployment.settings)
    server.apply_accounts([{**spec, "password_file": str(changed)}])
    server.apply_accounts([spec])
    assert _me(deployment, issued["access_token"]) == 401
    assert _refresh(deployment, issued["refresh_token"]) == 401
    deployment.forget_logins()


def test_an_account_an_administrator_deactivated_stays_so_at_the_next_start(
    deployment: Deployment, tmp_path: Path
) -> None:
    username = "deactivated_person"
    _create_account(deployment, tmp_path, username, ["Viewer sales"])
    with _metadata(deployment) as metadata:
        metadata.execute("update ab_user set active = 0 where username = ?", (username,))
    _create_account(deployment, tmp_path, username, ["Viewer sales"])  # what each start does
    with _metadata(deployment) as metadata:
        [(active,)] = metadata.execute(
            "select active from ab_user where username = ?", (username,)
        ).fetchall()
    assert not active
