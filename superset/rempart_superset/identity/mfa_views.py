"""The second step of a browser login: the code page, and enrolment at first login.

Plain server-rendered pages (no script, the QR code drawn here as an SVG data URI), reached
only with a pending login (the right password given in this browser session, a few minutes
ago) or, under the `optional` policy, by a logged-in person who wants to enrol.
"""

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.identity.login_attempts import refused
from rempart_superset.identity.second_factor import RECOVERY_CODES, qr_code_data_uri

# Its pages are in rempart_superset/templates/rempart/, one folder up from this sub-package.
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
mfa = Blueprint("rempart_mfa", __name__, url_prefix="/rempart/mfa", template_folder=TEMPLATES)


@mfa.after_request
def _never_stored(response: Response) -> Response:
    """The enrolment secret and the recovery codes must not stay in any cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _security() -> Any:
    return current_app.appbuilder.sm


def _pending_user() -> tuple[Any, dict | None, str]:
    """(user, pending login or None for a logged-in person enrolling, next URL)."""
    security = _security()
    pending = security.pending_login()
    if pending is not None:
        user = security.get_user_by_id(pending["user_id"])
        if user is not None and user.is_active:
            return user, pending, pending.get("next") or ""
        return None, None, ""
    if security.mfa_policy == "optional" and current_user.is_authenticated:
        return current_user, None, ""
    return None, None, ""


def _to_login() -> Response:
    return redirect(current_app.appbuilder.get_url_for_login)


@mfa.route("/", methods=["GET", "POST"])
def verify() -> ResponseReturnValue:
    security = _security()
    user, pending, next_url = _pending_user()
    if user is None or pending is None:
        return _to_login()
    if not security.second_factor.is_enrolled(user.id):
        return redirect(current_app.url_for("rempart_mfa.enrol"))
    if request.method == "GET":
        return render_template("rempart/verify.html", username=user.username)
    if security.login_attempts.is_locked(user.username):
        return refused(api=False, next_url=next_url)
    factor = security.check_code(user, request.form.get("code", ""))
    if factor is None:
        page = render_template(
            "rempart/verify.html",
            username=user.username,
            error="That code is not valid. Use the current code of your app, or a recovery "
            "code you have not used yet.",
        )
        return page, 401
    return security.finish_login(user, factor, next_url)


@mfa.route("/enrol", methods=["GET", "POST"])
def enrol() -> ResponseReturnValue:
    security = _security()
    user, pending, next_url = _pending_user()
    if user is None:
        return _to_login()
    if security.second_factor.is_enrolled(user.id):
        return redirect(current_app.url_for("rempart_mfa.verify")) if pending else _to_login()
    enrolment = security.second_factor.start_enrolment(user.id, user.username)
    page = {
        "username": user.username,
        "qr_code": qr_code_data_uri(enrolment.uri),
        "otpauth_uri": enrolment.uri,
        "secret": enrolment.secret,
    }
    if request.method == "GET":
        return render_template("rempart/enrol.html", **page)
    if security.login_attempts.is_locked(user.username):
        return refused(api=False, next_url=next_url)
    codes = security.second_factor.confirm_enrolment(user.id, request.form.get("code", ""))
    if codes is None:
        security.login_attempts.failed(user.username, "enrolment_code")
        error = "That code is not valid: enter the code your app shows now for Rempart."
        return render_template("rempart/enrol.html", error=error, **page), 401
    append_event(
        "superset_mfa_enrolled",
        user.username,
        {"address": request.remote_addr, "recovery_codes": RECOVERY_CODES},
    )
    if pending is not None:
        security.open_session(user, "totp")
    target = next_url or current_app.appbuilder.get_url_for_index
    return render_template("rempart/recovery_codes.html", codes=codes, next_url=target)
