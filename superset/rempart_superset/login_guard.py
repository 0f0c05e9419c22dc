"""Every login endpoint goes through this guard: per-account lockout and an audit of each
attempt, in front of Superset's own view (form login and REST login alike)."""

import functools
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app, flash, jsonify, make_response, redirect, request
from flask_appbuilder.security.views import AuthView
from flask_appbuilder.utils.base import get_safe_redirect
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from rempart_superset.account_lockout import AccountLockout
from rempart_superset.audit_trail import append_event

# Checked against a locked account's password so that its answer takes as long as a wrong
# password's: timing must not tell a locked account either.
_DECOY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def failed_login(response: Response) -> bool:
    """The answers Superset gives a refused login: 401 from the API, back to the form."""
    if response.status_code == 401:
        return True
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def _submitted() -> tuple[str, str, bool]:
    """(username, password, whether the request is the REST login)."""
    if request.is_json:
        body = request.get_json(silent=True) or {}
        username, password = body.get("username"), body.get("password")
        return (
            username if isinstance(username, str) else "",
            password if isinstance(password, str) else "",
            True,
        )
    return request.form.get("username", ""), request.form.get("password", ""), False


def _refused(api: bool) -> Response:
    """Exactly what a wrong password gets."""
    if api:
        return make_response(jsonify(message="Not authorized"), 401)
    flash(str(AuthView.invalid_login_message), "warning")
    next_url = get_safe_redirect(request.args.get("next", ""))
    return redirect(current_app.appbuilder.get_url_for_login_with(next_url))


def guard(view: Callable[..., Any], lockout: AccountLockout) -> Callable[..., Response]:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        if request.method != "POST":
            return view(*args, **kwargs)
        username, password, api = _submitted()
        address = request.remote_addr
        details = {"address": address, "path": request.path}
        if username and lockout.is_locked(username):
            check_password_hash(_DECOY_HASH, password)
            append_event("superset_login_refused_locked", username, details)
            return _refused(api)
        response = make_response(view(*args, **kwargs))
        if failed_login(response):
            if username:
                locked = lockout.record_failure(username, address)
                append_event("superset_login_failed", username, details)
                if locked:
                    policy = lockout.policy
                    append_event(
                        "superset_account_locked",
                        username,
                        {
                            **details,
                            "failures": policy.attempts,
                            "window_seconds": policy.window_seconds,
                            "locked_seconds": policy.duration_seconds,
                        },
                    )
        elif username and response.status_code < 400:
            lockout.record_success(username)
            append_event("superset_login", username, details)
        return response

    return guarded
