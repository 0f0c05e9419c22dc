"""Superset's REST API, as one user: the client, and the login of the pipeline's own account.

The client logs in for a JWT and fetches a CSRF token before its first write; an answer of
400 or more is a `SupersetError` that quotes it.
"""

from __future__ import annotations

from typing import Any

import httpx

from flows.names import SYNC_ACCOUNT
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.superset.accounts import password_secret
from flows.superset.errors import SupersetError
from flows.superset.server import SupersetServer


class SupersetLoginError(SupersetError):
    def __init__(self, username: str, status_code: int) -> None:
        super().__init__(f"Superset refused the login of {username} ({status_code})")
        self.status_code = status_code


class SupersetClient:
    """Superset's REST API as one user: JWT login, then a CSRF token for every write."""

    def __init__(self, base_url: str, access_token: str) -> None:
        self.access_token = access_token
        self.http = httpx.Client(
            base_url=base_url,
            timeout=120,
            headers={"Authorization": f"Bearer {access_token}", "Referer": base_url},
        )
        self._csrf_ready = False

    @classmethod
    def log_in(
        cls, base_url: str, username: str, password: str, otp: str | None = None
    ) -> SupersetClient:
        """Log in through the REST API; `otp` is the second factor's code, for an account
        that has one."""
        credentials = {"username": username, "password": password, "provider": "db"}
        if otp is not None:
            credentials["otp"] = otp
        with httpx.Client(base_url=base_url, timeout=120) as http:
            response = http.post("/api/v1/security/login", json=credentials)
        if response.status_code != 200:
            raise SupersetLoginError(username, response.status_code)
        return cls(base_url, response.json()["access_token"])

    def _ensure_csrf(self) -> None:
        """Writes need a CSRF token tied to the session; reading one needs a role that may."""
        if not self._csrf_ready:
            self._csrf_ready = True
            token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
            self.http.headers["X-CSRFToken"] = token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET":
            self._ensure_csrf()
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise SupersetError(
                f"Superset answered {response.status_code} to {method} {path}: "
                f"{response.text[:500]}"
            )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def list_all(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint, page by page."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            rison = ",".join(
                [f"page:{page}", "page_size:100"] + [f"{k}:{v}" for k, v in query.items()]
            )
            body = self.request("GET", path, params={"q": f"({rison})"})
            rows.extend(body["result"])
            if len(rows) >= body.get("count", 0) or not body["result"]:
                return rows
            page += 1

    def close(self) -> None:
        self.http.close()


def ids_by_uuid(client: SupersetClient, resource: str, uuids: set[str]) -> dict[str, int]:
    """The ids, in this Superset, of the resources of these UUIDs that it has."""
    found = {}
    for row in client.list_all(f"/api/v1/{resource}/", columns="!(id,uuid)"):
        if row.get("uuid") in uuids:
            found[row["uuid"]] = row["id"]
    return found


def sync_client(settings: Settings, server: SupersetServer) -> SupersetClient:
    """The pipeline's own account, logged in from this machine (see the README)."""
    password = SecretStore(settings.secrets_dir).get(password_secret(SYNC_ACCOUNT))
    try:
        return SupersetClient.log_in(server.url, SYNC_ACCOUNT, password)
    except SupersetLoginError as error:
        if error.status_code == 429:
            raise SupersetError(
                f"{error}: too many failed logins from this machine in the last minute; "
                "the sync can try again in a minute"
            ) from error
        raise SupersetError(
            f"{error}: the pipeline's service account {SYNC_ACCOUNT} is missing, disabled or "
            "has another password than the secrets store's. `rempart superset stop` then "
            "`rempart superset start` re-creates it."
        ) from error
