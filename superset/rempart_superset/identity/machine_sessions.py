"""The browser of Alerts & Reports, logged in as the account a report runs as.

Superset's reports and server-side screenshots open the dashboard in a headless Chromium
(Selenium, Debian's chromium and chromedriver) with a session cookie it makes itself
(`MachineAuthProvider.get_auth_cookies`: Flask-Login's `login_user`, then the cookie). Such a
cookie carries no token of Rempart's session registry, so the session gate (session_gate.py)
would treat the browser as anonymous, and the report would show a login page. This provider
gives the cookie a token of a machine session instead: kept in Redis (the hash of the token,
never the token), for MACHINE_SESSION_SECONDS only, the time to render one report, and
audited. Not in the registry's SQLite table: a report run holds that database's write lock
while its browser logs in.

Who may be given such a session: the report accounts (`REMPART_REPORT_ACCOUNTS`, which can
never log in otherwise), and, for a dashboard download taken on the server, the person who
asked for it, logged in, in the last minutes (exports/screenshot_downloads.py). Anyone else is
refused: fail closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from typing import Any

from flask import current_app, has_request_context, session
from flask_login import current_user, login_user
from superset.utils.machine_auth import MachineAuthProvider
from werkzeug.http import parse_cookie
from werkzeug.wrappers import Response

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.caching.redis_state import KEY_ROOT, client
from rempart_superset.exports.screenshot_downloads import may_take_screenshot_as

MACHINE_FACTOR = "machine"
MACHINE_TOKEN_KEY = "_rempart_machine_sid"  # noqa: S105 (a key of the session, not a secret)
MACHINE_SESSION_SECONDS = 900


def _key(token: str) -> str:
    return f"{KEY_ROOT}:machine_session:{hashlib.sha256(token.encode()).hexdigest()}"


def open_machine_session(redis_url: str, user_id: int) -> str:
    token = secrets.token_urlsafe(32)
    client(redis_url).set(_key(token), str(user_id), ex=MACHINE_SESSION_SECONDS)
    return token


def live_machine_session(redis_url: str, user_id: int) -> bool:
    """Whether this request's cookie carries a machine session of this user, still alive."""
    token = session.get(MACHINE_TOKEN_KEY) if has_request_context() else None
    if not isinstance(token, str):
        return False
    owner = client(redis_url).get(_key(token))
    return owner is not None and owner.decode() == str(user_id)


class MachineSessionRefused(RuntimeError):
    """A report or screenshot asked for a session of an account that may not have one."""


def may_open_machine_session(username: str, config: Any) -> bool:
    """A report account, or a person whose own request asked for a screenshot lately."""
    if username in config["REMPART_REPORT_ACCOUNTS"]:
        return True
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return getattr(current_user, "username", None) == username
    return may_take_screenshot_as(config["REDIS_URL"], username)


class RempartMachineAuthProvider(MachineAuthProvider):
    def authenticate_webdriver(self, driver: Any, user: Any) -> Any:
        """Superset's, except that a browser whose session is refused is closed, not left
        running (Superset's screenshot code only closes the browsers it got back)."""
        try:
            return super().authenticate_webdriver(driver, user)
        except Exception:
            with contextlib.suppress(Exception):
                driver.quit()
            raise

    @staticmethod
    def get_auth_cookies(user: Any) -> dict[str, str]:
        app = current_app._get_current_object()
        if user is None or not user.is_active:
            raise MachineSessionRefused("no active account to run the report as")
        if not may_open_machine_session(user.username, app.config):
            raise MachineSessionRefused(
                f"{user.username} is no report account and asked for no download: "
                "its browser session is refused"
            )
        with app.test_request_context("/login/"):
            session.clear()
            login_user(user, remember=False)
            session[MACHINE_TOKEN_KEY] = open_machine_session(app.config["REDIS_URL"], user.id)
            response = Response()
            app.session_interface.save_session(app, session, response)
        append_event("superset_machine_session", user.username, {"factor": MACHINE_FACTOR})
        cookies = {}
        for name, value in response.headers:
            if name.lower() == "set-cookie":
                cookie_name, cookie_value = next(iter(parse_cookie(value).items()))
                cookies[cookie_name] = cookie_value
        return cookies
