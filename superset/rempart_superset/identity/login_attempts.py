"""What every login path does with an attempt: lockout first, then count and audit it.

One place decides, for the login form, the REST login and the second-factor page alike:
a locked account is refused before its password is checked (and after a decoy check that
takes as long), a failure of any kind (password, code, recovery code) counts towards the
lockout of that account name and is audited with the reason, and a success clears the count
and trusts the address (account_lockout.py). Callers pass the name of the account the login
opens (`account_name` of the security manager), never the name as typed. Refusals all look
like a wrong password, so nobody learns which part was wrong, nor whether the account exists
or is locked.
"""

import secrets

from flask import current_app, flash, jsonify, make_response, redirect, request
from flask_appbuilder.security.views import AuthView
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.identity.account_lockout import AccountLockout

_DECOY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def failed_login(response: Response) -> bool:
    """The answers a refused login gets (for the per-address limit, which counts failures):
    401 from the API or the code page, back to the login form."""
    if response.status_code == 401:
        return True
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def refused(api: bool, next_url: str = "") -> Response:
    """Exactly what a wrong password gets."""
    if api:
        return make_response(jsonify(message="Not authorized"), 401)
    flash(str(AuthView.invalid_login_message), "warning")
    return redirect(current_app.appbuilder.get_url_for_login_with(next_url))


class LoginAttempts:
    def __init__(self, lockout: AccountLockout) -> None:
        self.lockout = lockout

    @staticmethod
    def _details(**extra: object) -> dict:
        return {"address": request.remote_addr, "path": request.path, **extra}

    def is_locked(self, username: str, password: str = "") -> bool:
        if not username or not self.lockout.is_locked(username, request.remote_addr):
            return False
        check_password_hash(_DECOY_HASH, password or "")
        append_event("superset_login_refused_locked", username, self._details())
        return True

    def failed(self, username: str, reason: str) -> None:
        if not username:
            return
        details = self._details(reason=reason)
        locked = self.lockout.record_failure(username, request.remote_addr)
        append_event("superset_login_failed", username, details)
        if locked:
            policy = self.lockout.policy
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

    def refused_apart(self, username: str, reason: str) -> None:
        """Audited like a failure, not counted: an attempt that no password could turn into a
        login (a service account outside loopback or in a browser), so not a guess."""
        append_event("superset_login_failed", username, self._details(reason=reason))

    def succeeded(self, username: str, factor: str) -> None:
        self.lockout.record_success(username, request.remote_addr)
        append_event("superset_login", username, self._details(factor=factor))
