"""Lockout per account, against the real Superset of the session's deployment: failed logins
from several addresses lock the account, its right password is then refused with the answer
a wrong one gets, and `rempart superset unlock` lifts the lock; every step is audited."""

from __future__ import annotations

import httpx
import pytest

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
